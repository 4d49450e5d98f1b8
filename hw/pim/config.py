"""Pure-Python configuration of the logic-PIM unit (no Amaranth import).

YAML form (``examples/pim/logic_pim_unit.yaml``)::

    schema_version: 1
    pim: {banks: 4, burst_bits: 64, max_tokens: 8, max_k_words: 16}
    verify: {jobs: [[gemv_int4, 4, 96, 3]], dram: {latency: 12, row_miss: 10}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mixforge.errors import ConfigError

__all__ = ["PimConfig", "DramModel", "PimVerify", "PimFile", "load_pim_file", "MODES"]

#: Run-time modes and their ``mode`` port encoding.
MODES = {"gemv_int4": 0, "gemv_int8": 1, "attn_int8": 2}
Mode = Literal["gemv_int4", "gemv_int8", "attn_int8"]


def _int_in(name: str, v: object, lo: int, hi: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"must be an integer in {lo}..{hi}, not {v!r}", path=name)


@dataclass(frozen=True)
class PimConfig:
    """Parameters of :class:`mixforge.hw.pim.LogicPIMUnit`.

    Parameters
    ----------
    banks
        Bank-bundle parallelism: banks read in parallel per burst (power of two, 1..16).
    burst_bits
        Bits one bank delivers per burst (power of two, 32..256). The weight interface is
        ``banks * burst_bits`` wide.
    max_tokens
        Activation buffer capacity in tokens (query rows), 1..16.
    max_k_words
        Activation buffer depth per token in words of ``banks * burst_bits / 4`` INT8 values.
    """

    banks: int = 4
    burst_bits: int = 64
    max_tokens: int = 8
    max_k_words: int = 16

    def __post_init__(self) -> None:
        _int_in("banks", self.banks, 1, 16)
        if self.banks & (self.banks - 1):
            raise ConfigError(f"must be a power of two, not {self.banks}", path="banks")
        _int_in("burst_bits", self.burst_bits, 32, 256)
        if self.burst_bits & (self.burst_bits - 1):
            raise ConfigError(f"must be a power of two, not {self.burst_bits}",
                              path="burst_bits")
        _int_in("max_tokens", self.max_tokens, 1, 16)
        _int_in("max_k_words", self.max_k_words, 1, 4096)

    @property
    def width(self) -> int:
        """Weight interface width in bits."""
        return self.banks * self.burst_bits

    @property
    def lanes(self) -> int:
        """8-bit lanes: each holds one INT8 weight or two INT4 weights."""
        return self.width // 8

    @property
    def word_acts(self) -> int:
        """INT8 activations per activation-buffer word (= INT4 weights per beat)."""
        return self.width // 4

    @property
    def acc_bits(self) -> int:
        """Accumulator width: exact for K up to ``max_k_words * word_acts`` INT8 x INT8."""
        return 16 + (self.max_k_words * self.word_acts).bit_length() + 1

    @property
    def name(self) -> str:
        return f"logic_pim_{self.banks}x{self.burst_bits}_t{self.max_tokens}"

    def params(self) -> dict[str, int]:
        return {"banks": self.banks, "burst_bits": self.burst_bits,
                "max_tokens": self.max_tokens, "max_k_words": self.max_k_words}

    def beats_per_column(self, mode: str, k: int) -> int:
        """Weight beats per output column for reduction length ``k``."""
        words = -(-k // self.word_acts)
        return words if mode == "gemv_int4" else 2 * words

    def ideal_cycles(self, mode: str, tokens: int, k: int, n: int) -> int:
        """Cycles with data always ready: one beat per token per cycle, plus 1 output cycle."""
        return self.beats_per_column(mode, k) * n * tokens


@dataclass(frozen=True)
class DramModel:
    """The cocotb DRAM-side model: burst latency, row-buffer behaviour, random stalls.

    ``row_bytes`` of consecutive weight bytes share a DRAM row; the first burst of a new row
    pays ``row_miss`` extra cycles (precharge + activate); every burst arrives ``latency``
    cycles after it is issued, with up to ``queue`` bursts in flight; with probability
    ``stall`` a cycle issues nothing (refresh, other bundle's traffic).
    """

    latency: int = 8
    row_bytes: int = 1024
    row_miss: int = 10
    queue: int = 16
    stall: float = 0.0

    def __post_init__(self) -> None:
        _int_in("latency", self.latency, 1, 1000)
        _int_in("row_bytes", self.row_bytes, 32, 1 << 16)
        _int_in("row_miss", self.row_miss, 0, 1000)
        _int_in("queue", self.queue, 1, 256)
        if not 0.0 <= self.stall < 1.0:
            raise ConfigError(f"must be in [0, 1), not {self.stall}", path="stall")


@dataclass(frozen=True)
class PimVerify:
    """Jobs ``[mode, tokens, K, N]`` that ``mixforge verify pim`` runs, the DRAM model, seed."""

    jobs: tuple[tuple[str, int, int, int], ...] = (("gemv_int4", 4, 96, 3),
                                                   ("gemv_int8", 1, 64, 4),
                                                   ("attn_int8", 8, 40, 5))
    dram: DramModel = field(default_factory=DramModel)
    seed: int = 1

    def __post_init__(self) -> None:
        for i, (mode, t, k, n) in enumerate(self.jobs):
            if mode not in MODES:
                raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}",
                                  path=f"jobs[{i}]")
            if min(t, k, n) <= 0:
                raise ConfigError(f"tokens, K, N must be positive, not {[t, k, n]}",
                                  path=f"jobs[{i}]")


@dataclass(frozen=True)
class PimFile:
    pim: PimConfig
    verify: PimVerify = field(default_factory=PimVerify)


def load_pim_file(path: str | Path) -> PimFile:
    """Read and validate a logic-PIM YAML file (``schema_version: 1``)."""
    from mixforge.config import from_dict, load_yaml

    return from_dict(PimFile, load_yaml(path), file=str(path))
