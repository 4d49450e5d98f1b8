"""Result dataclasses: per op and per sequence of ops (a layer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mixforge.sim.cost.energy import EnergyBreakdown
from mixforge.sim.engine.dram import DRAM_MODEL
from mixforge.sim.engine.interference import Interference
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.mapper import Mapping

__all__ = ["OpResult", "LayerResult", "Bound", "Unit"]

Bound = Literal["compute", "memory", "pim"]
Unit = Literal["xpu", "pim"]


@dataclass(frozen=True)
class OpResult:
    """Simulated cost of one op.

    Parameters
    ----------
    cycles
        Duration in xPU clock cycles (``ceil(seconds * xpu.freq_hz)`` for PIM ops).
    seconds, energy
        Duration and energy by component.
    roofline_seconds
        ``max(compulsory bytes / peak bandwidth, ops / peak rate)`` on the unit that ran it;
        ``seconds >= roofline_seconds`` always.
    bound
        ``"memory"`` when DMA time exceeds compute time on the xPU, ``"compute"`` otherwise,
        ``"pim"`` when it ran on PIM.
    utilisation
        MACs (or vector ops) / (peak rate * seconds).
    compute_seconds, memory_seconds
        Time the compute units / the DRAM alone would need (one core's sequence).
    sim_wall_s
        Wall time the simulator spent on this op (cached results keep the first value).
    dispatch
        Why the op ran on ``unit``: the policy and its evidence, e.g.
        ``"best: xpu 117 us <= pim 477 us"`` or ``"threshold: Op/B 3.9 < 32 -> pim"``.
    clock_hz, power_limited
        xPU clock the op ran at (0: not recorded), and whether it is below the boost clock
        because the op would exceed ``xpu.power_limit_w`` (:mod:`mixforge.sim.engine.dvfs`).
    idle_cores
        xPU cores that got no tile of the op (0 for PIM and vector ops).
    overhead_s
        Fixed per-kernel cost included in ``seconds``: launch gap, pipeline fill and drain
        (:mod:`mixforge.sim.engine.overhead`); 0 on PIM and on devices that do not set it.
    """

    name: str
    unit: Unit
    cycles: int
    seconds: float
    energy: EnergyBreakdown
    roofline_seconds: float
    bound: Bound
    utilisation: float
    macs: int
    dram_bytes: int
    compute_seconds: float
    memory_seconds: float
    tiles: int
    actions: ActionCounts
    mapping: Mapping | None = None
    parts: tuple[OpResult, ...] = ()
    sim_wall_s: float = 0.0
    dispatch: str = ""
    clock_hz: float = 0.0
    power_limited: bool = False
    idle_cores: int = 0
    overhead_s: float = 0.0

    @property
    def energy_j(self) -> float:
        return self.energy.total_j

    @property
    def power_w(self) -> float:
        """Average power over the op."""
        return self.energy_j / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the ``mixforge sim op --json`` payload)."""
        return {
            "name": self.name, "unit": self.unit, "dispatch": self.dispatch,
            "cycles": self.cycles,
            "seconds": self.seconds, "energy_j": self.energy_j,
            "energy_breakdown_j": self.energy.as_dict(),
            "roofline_seconds": self.roofline_seconds, "bound": self.bound,
            "utilisation": self.utilisation, "macs": self.macs, "dram_bytes": self.dram_bytes,
            "compute_seconds": self.compute_seconds, "memory_seconds": self.memory_seconds,
            "tiles": self.tiles, "sim_wall_s": self.sim_wall_s, "idle_cores": self.idle_cores,
            "overhead_s": self.overhead_s,
            "average_power_w": self.power_w, "clock_hz": self.clock_hz,
            "power_limited": self.power_limited, "dram_model": DRAM_MODEL,
            "mapping": None if self.mapping is None else vars(self.mapping).copy(),
            "parts": [p.as_dict() for p in self.parts],
        }


@dataclass(frozen=True)
class LayerResult:
    """Ops run one after another (``ops``), or concurrently on xPU and PIM (``concurrent``).

    ``seconds`` is the sum over sequential ops, or the max over the two units when concurrent
    (``unit_seconds`` include the DRAM interference between them, ``interference``); energy
    always adds up, plus ``extra_energy`` (row activations caused by interference).
    """

    ops: tuple[OpResult, ...]
    concurrent: bool = False
    unit_seconds: dict[str, float] = field(default_factory=dict)
    interference: Interference | None = None
    extra_energy: EnergyBreakdown = field(default_factory=EnergyBreakdown)

    @property
    def seconds(self) -> float:
        if self.concurrent:
            return max(self.unit_seconds.values(), default=0.0)
        return sum(r.seconds for r in self.ops)

    @property
    def energy_j(self) -> float:
        return sum(r.energy_j for r in self.ops) + self.extra_energy.total_j

    @property
    def energy(self) -> EnergyBreakdown:
        total = self.extra_energy
        for r in self.ops:
            total = total + r.energy
        return total

    @property
    def roofline_seconds(self) -> float:
        if self.concurrent:
            per: dict[str, float] = {}
            for r in self.ops:
                per[r.unit] = per.get(r.unit, 0.0) + r.roofline_seconds
            return max(per.values(), default=0.0)
        return sum(r.roofline_seconds for r in self.ops)
