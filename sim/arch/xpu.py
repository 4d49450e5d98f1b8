"""The xPU: cores, each a systolic PE array with its SRAM buffers and a vector unit."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixforge.errors import ConfigError
from mixforge.hw.specs import ArraySpec
from mixforge.models.formats import get_format
from mixforge.sim.arch.pe import PeConfig

__all__ = ["SramBuffer", "SramConfig", "VectorUnit", "XpuConfig"]


def _positive(obj: object, *names: str) -> None:
    for name in names:
        v = getattr(obj, name)
        if isinstance(v, bool) or not v > 0:
            raise ConfigError(f"must be positive, not {v!r}", path=name)


@dataclass(frozen=True)
class SramBuffer:
    """One on-chip buffer (weights, inputs or outputs) of one core.

    Parameters
    ----------
    size_bytes
        Capacity.
    banks, ports
        Independent banks, each with ``ports`` read/write ports.
    width_bits
        Bits one port moves per core cycle; bandwidth = banks * ports * width_bits per cycle.
    """

    size_bytes: int
    banks: int = 1
    ports: int = 1
    width_bits: int = 1024

    def __post_init__(self) -> None:
        _positive(self, "size_bytes", "banks", "ports", "width_bits")

    @property
    def bits_per_cycle(self) -> int:
        return self.banks * self.ports * self.width_bits


@dataclass(frozen=True)
class SramConfig:
    """The three buffers of a core (MixPE: 128 KiB weight / 256 KiB input / 128 KiB output)."""

    weight: SramBuffer
    input: SramBuffer
    output: SramBuffer


@dataclass(frozen=True)
class VectorUnit:
    """SIMD unit for softmax, norms, activations, top-k and dequantization.

    Parameters
    ----------
    lanes
        Elementwise operations per cycle (one lane = one FP32-class op per cycle).
    """

    lanes: int = 64

    def __post_init__(self) -> None:
        _positive(self, "lanes")


@dataclass(frozen=True)
class XpuConfig:
    """An xPU of ``cores`` identical cores.

    Parameters
    ----------
    cores
        Number of cores; an op's tiles are split across them, and they share the HBM.
    freq_hz
        Core clock.
    array
        The PE array timing spec (shared with the RTL generator, ``mixforge.hw.specs``).
    pe
        PE kind, modes (formats, lanes) and accumulator width.
    sram
        Per-core buffers.
    vector
        Per-core vector unit.
    static_w
        Static (leakage) power of the whole xPU, in watts.
    l2
        Optional last-level buffer shared by all cores (capacity and bandwidth per xPU cycle):
        operand re-fetches that fit in it, and tiles other cores fetched, stay off DRAM.
    l2_multicast
        Cores of a cluster that receive one L2 read of an operand tile they all need (Hopper
        thread-block clusters with TMA multicast). Cores working on an L2-resident block take
        neighbouring output tiles, so the operand of their shared outer loop is read once per
        cluster. ``1``: every core reads its own copy.
    power_limit_w
        Board power limit (TDP), watts; ``0`` = none. An op whose average power at ``freq_hz``
        (the boost clock) exceeds it runs at the sustained clock where it fits
        (:mod:`mixforge.sim.engine.dvfs`).
    area_budget_transistors
        ``0``: the array is ``array.rows x array.cols``. Otherwise the loader scales the array
        (aspect ratio kept) to the largest size whose PE arrays, all cores, fit this many
        transistors of the PE's synthesized area (``pe.rtl``; :mod:`mixforge.sim.arch.isoarea`).
    launch_gap_s
        Fixed gap between two dependent kernels (ops) on GPU-like xPUs: the launch and
        scheduling time during which no core works (0: none, e.g. a fixed-function accelerator
        fed by a command queue). Added once per kernel (:mod:`mixforge.sim.engine.overhead`).
    mem_latency_cycles
        Load-to-use latency of a DRAM access in core cycles. The engine derives each kernel's
        pipeline fill and drain from it (the first operand tile arrives one latency after the
        kernel starts, the last output is written one latency before it ends); 0: not modelled.
    """

    freq_hz: float
    array: ArraySpec
    pe: PeConfig
    sram: SramConfig
    vector: VectorUnit = field(default_factory=VectorUnit)
    cores: int = 1
    static_w: float = 0.0
    l2: SramBuffer | None = None
    l2_multicast: int = 1
    power_limit_w: float = 0.0
    area_budget_transistors: float = 0.0
    launch_gap_s: float = 0.0
    mem_latency_cycles: int = 0

    def __post_init__(self) -> None:
        _positive(self, "freq_hz", "cores", "l2_multicast")
        for name in ("static_w", "power_limit_w", "area_budget_transistors", "launch_gap_s",
                     "mem_latency_cycles"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"must be >= 0, not {getattr(self, name)}", path=name)
        # The smallest useful weight tile is one array fold of the widest weight format: a
        # buffer below that cannot hold anything the array can consume.
        r, c = self.array.rows, self.array.cols
        need_w = -(-r * c * self.pe.max_w_bits // 8)
        if self.sram.weight.size_bytes < need_w:
            raise ConfigError(f"{self.sram.weight.size_bytes} B cannot hold one {r}x{c} tile of "
                              f"{self.pe.max_w_bits}-bit weights ({need_w} B)",
                              path="sram.weight.size_bytes")
        a_bits = max(get_format(m.a).bits for m in self.pe.modes)
        need_a = -(-r * a_bits // 8)
        if self.sram.input.size_bytes < need_a:
            raise ConfigError(f"{self.sram.input.size_bytes} B cannot hold one {r}-element "
                              f"input row of {a_bits}-bit activations ({need_a} B)",
                              path="sram.input.size_bytes")
        need_o = -(-c * self.pe.acc_bits // 8)
        if self.sram.output.size_bytes < need_o:
            raise ConfigError(f"{self.sram.output.size_bytes} B cannot hold one {c}-wide row of "
                              f"{self.pe.acc_bits}-bit partial sums ({need_o} B)",
                              path="sram.output.size_bytes")

    @property
    def l2_bw_bytes_per_s(self) -> float:
        """Bandwidth of the shared L2 (0 without one)."""
        return 0.0 if self.l2 is None else self.l2.bits_per_cycle / 8 * self.freq_hz

    def peak_macs_per_s(self, w: str, a: str) -> float:
        """Peak MAC rate of all cores in mode ``(w, a)``."""
        lanes = self.pe.lanes(w, a)
        return self.cores * self.array.rows * self.array.cols * lanes * self.freq_hz
