"""Run an op graph (a model step) on a Simulator and aggregate time and energy.

A graph is a sequence of :class:`GraphNode`: one op, or a set of independent ops (MoE experts)
that the simulator splits between xPU and PIM (:meth:`Simulator.co_process`), each executed
``count`` times one after another (``count`` = the layers that share the node). Identical ops
are simulated once (the Simulator's result cache), so a 61-layer model costs a handful of
simulations. This module knows nothing about models: ``mixforge.workloads`` builds the graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from mixforge.errors import ConfigError
from mixforge.sim.cost.energy import EnergyBreakdown
from mixforge.sim.engine.results import LayerResult, OpResult
from mixforge.sim.mapping.ops import Attention, Gemm, MoeGate, Op, Vector

if TYPE_CHECKING:
    from mixforge.sim.engine.simulator import Simulator

__all__ = ["GraphNode", "NodeResult", "ClassSummary", "GraphResult", "run_graph", "op_flops",
           "op_bytes"]


@dataclass(frozen=True)
class GraphNode:
    """One step of a graph.

    Parameters
    ----------
    ops
        One op, or several independent ops co-processed on xPU and PIM (MoE experts).
    count
        Sequential executions (e.g. the number of layers that contain this node).
    op_class
        Label used for the per-class breakdown (``"attn.qkv"``, ``"moe.experts"``...).
    layer
        Label of the layers this node belongs to (``"0-31"``).
    note
        Free text carried to the report (e.g. "weights dequantized to float16").
    """

    ops: tuple[Op, ...]
    count: int = 1
    op_class: str = "other"
    layer: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not self.ops:
            raise ConfigError("a graph node needs at least one op", path="ops")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise ConfigError(f"must be a positive integer, not {self.count!r}", path="count")

    @property
    def flops(self) -> int:
        """FLOPs of one execution (2 per MAC plus vector ops)."""
        return sum(op_flops(op) for op in self.ops)

    @cached_property
    def roofline_memo(self) -> dict[int, tuple[object, float, float]]:
        """Per-device memo of the xPU roofline terms (filled by :func:`run_graph`)."""
        return {}

    @cached_property
    def parts(self) -> tuple[Gemm | Vector, ...]:
        """The GEMM and vector ops of one execution (composites lowered; computed once)."""
        return tuple(p for op in self.ops for p in _parts(op))


def _parts(op: Op) -> tuple[Gemm | Vector, ...]:
    return op.lower() if isinstance(op, Attention | MoeGate) else (op,)


def op_flops(op: Op) -> int:
    """FLOPs of ``op``: 2 per MAC of its GEMMs plus its vector ops."""
    return sum(2 * p.macs if isinstance(p, Gemm) else p.ops for p in _parts(op))


def op_bytes(op: Op) -> int:
    """Compulsory DRAM bytes of ``op`` (each operand once, scales included)."""
    from mixforge.sim.engine.simulator import _compulsory_bytes

    return sum(_compulsory_bytes(p) for p in _parts(op))


@dataclass(frozen=True)
class NodeResult:
    """A node and what it cost: ``seconds`` and ``energy`` cover all ``count`` executions."""

    node: GraphNode
    result: OpResult | LayerResult
    seconds: float
    energy: EnergyBreakdown
    unit_seconds: dict[str, float]
    unit_energy: dict[str, EnergyBreakdown]
    roofline_seconds: float
    bound: str
    xpu_memory_s: float = 0.0
    xpu_compute_s: float = 0.0


@dataclass(frozen=True)
class ClassSummary:
    """Totals of one op class.

    ``bound`` is the simulated bound of the ops holding most of its time (DMA vs compute time
    of the mapped tiles, or PIM); ``roofline_bound`` is the classical one on the xPU:
    ``"compute"`` when its ops at peak rate take longer than its compulsory bytes at peak
    bandwidth (arithmetic intensity above the ridge point), else ``"memory"``.
    """

    seconds: float
    energy_j: float
    flops: int
    dram_bytes: int
    bound: str
    roofline_bound: str = ""


@dataclass(frozen=True)
class GraphResult:
    """A graph's cost: nodes run one after another."""

    nodes: tuple[NodeResult, ...]
    per_class: dict[str, ClassSummary] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(n.seconds for n in self.nodes)

    @property
    def roofline_seconds(self) -> float:
        return sum(n.roofline_seconds for n in self.nodes)

    @property
    def roofline_bound(self) -> str:
        """``"compute"`` or ``"memory"``: the step's xPU roofline (see :class:`ClassSummary`)."""
        mem = sum(n.xpu_memory_s for n in self.nodes)
        comp = sum(n.xpu_compute_s for n in self.nodes)
        return "compute" if comp > mem else "memory"

    @property
    def energy(self) -> EnergyBreakdown:
        return _sum(n.energy for n in self.nodes)

    @property
    def energy_j(self) -> float:
        return self.energy.total_j

    @property
    def unit_energy(self) -> dict[str, EnergyBreakdown]:
        """Energy of the ops that ran on each unit (``"xpu"``, ``"pim"``), by component."""
        per: dict[str, list[EnergyBreakdown]] = {}
        for n in self.nodes:
            for u, e in n.unit_energy.items():
                per.setdefault(u, []).append(e)
        return {u: _sum(es) for u, es in per.items()}

    @property
    def unit_seconds(self) -> dict[str, float]:
        """Busy time of each unit (concurrent units overlap, so these can sum past seconds)."""
        out: dict[str, float] = {}
        for n in self.nodes:
            for u, s in n.unit_seconds.items():
                out[u] = out.get(u, 0.0) + s
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "seconds": self.seconds, "roofline_seconds": self.roofline_seconds,
            "roofline_bound": self.roofline_bound, "energy_j": self.energy_j,
            "energy_breakdown_j": self.energy.as_dict(),
            "unit_energy_j": {u: e.total_j for u, e in self.unit_energy.items()},
            "unit_seconds": self.unit_seconds,
            "per_class": {k: vars(v).copy() for k, v in self.per_class.items()},
            "nodes": [{"op_class": n.node.op_class, "layer": n.node.layer,
                       "count": n.node.count, "ops": len(n.node.ops),
                       "name": n.node.ops[0].name, "seconds": n.seconds,
                       "energy_j": n.energy.total_j, "bound": n.bound,
                       "unit_seconds": n.unit_seconds, "note": n.node.note}
                      for n in self.nodes],
        }


_EF = tuple(f.name for f in fields(EnergyBreakdown))


def _scale(e: EnergyBreakdown, c: float) -> EnergyBreakdown:
    return EnergyBreakdown(*[getattr(e, k) * c for k in _EF]) if c != 1 else e


def _sum(es: Iterable[EnergyBreakdown]) -> EnergyBreakdown:
    acc = [0.0] * len(_EF)
    for e in es:
        for i, k in enumerate(_EF):
            acc[i] += getattr(e, k)
    return EnergyBreakdown(*acc)


def _xpu_roofline(sim: Simulator, node: GraphNode) -> tuple[float, float]:
    """(memory, compute) seconds of one execution at the xPU's peaks, memoised on the node
    per device (a warm graph run then costs dict lookups only)."""
    memo = node.roofline_memo
    hit = memo.get(id(sim.arch))
    if hit is not None and hit[0] is sim.arch:
        return hit[1], hit[2]
    mem = comp = 0.0
    for p in node.parts:  # (memory, MAC, vector) lower bounds
        mb, cb, vb = sim._roofline(p, "xpu")
        mem += mb
        comp += cb + vb
    memo[id(sim.arch)] = (sim.arch, mem, comp)
    return mem, comp


def _run_node(sim: Simulator, node: GraphNode) -> NodeResult:
    res: OpResult | LayerResult
    c = node.count
    if len(node.ops) == 1:
        r0 = sim.run_op(node.ops[0])
        res, secs, roof, energy = r0, r0.seconds, r0.roofline_seconds, r0.energy
        unit_s: dict[str, float] = {r0.unit: r0.seconds * c}
        unit_e: dict[str, EnergyBreakdown] = {r0.unit: _scale(energy, c)}
        bound: str = r0.bound
    else:
        lr = sim.co_process(node.ops)
        res, secs, roof = lr, lr.seconds, lr.roofline_seconds
        unit_s = {u: s * c for u, s in lr.unit_seconds.items()}
        per_unit: dict[str, list[EnergyBreakdown]] = {}
        by_bound: dict[str, float] = {}
        for r in lr.ops:
            per_unit.setdefault(r.unit, []).append(r.energy)
            by_bound[r.bound] = by_bound.get(r.bound, 0.0) + r.seconds
        if lr.extra_energy.total_j:  # row activations caused by xPU / PIM interference
            per_unit.setdefault("pim", []).append(lr.extra_energy)
        unit_e = {u: _scale(_sum(es), c) for u, es in per_unit.items()}
        energy = _sum([*(r.energy for r in lr.ops), lr.extra_energy])
        bound = max(by_bound, key=by_bound.__getitem__)
    mem, comp = _xpu_roofline(sim, node)
    return NodeResult(node=node, result=res, seconds=secs * c, energy=_scale(energy, c),
                      xpu_memory_s=mem * c, xpu_compute_s=comp * c, unit_seconds=unit_s,
                      unit_energy=unit_e, roofline_seconds=roof * c, bound=bound)


def run_graph(sim: Simulator, nodes: Iterable[GraphNode]) -> GraphResult:
    """Simulate ``nodes`` in order on ``sim``; identical ops hit its result cache.

    Returns per-node results and per-op-class totals (time, energy, FLOPs, DRAM bytes, bound).
    Unsupported formats raise the simulator's ``ConfigError``.
    """
    results = tuple(_run_node(sim, n) for n in nodes)
    return GraphResult(nodes=results, per_class=_summarise(results))


def _summarise(results: Sequence[NodeResult]) -> dict[str, ClassSummary]:
    acc: dict[str, dict[str, Any]] = {}
    for r in results:
        a = acc.setdefault(r.node.op_class, {"seconds": 0.0, "energy_j": 0.0, "flops": 0,
                                             "dram_bytes": 0, "bounds": {}, "mem": 0.0,
                                             "comp": 0.0})
        a["mem"] += r.xpu_memory_s
        a["comp"] += r.xpu_compute_s
        a["seconds"] += r.seconds
        a["energy_j"] += r.energy.total_j
        ops = r.result.ops if isinstance(r.result, LayerResult) else (r.result,)
        # from the (cached) results: lowering the ops again would cost more than the lookups
        a["flops"] += sum(2 * o.macs + o.actions.vector_ops for o in ops) * r.node.count
        a["dram_bytes"] += sum(o.dram_bytes for o in ops) * r.node.count
        a["bounds"][r.bound] = a["bounds"].get(r.bound, 0.0) + r.seconds
    return {k: ClassSummary(seconds=v["seconds"], energy_j=v["energy_j"], flops=v["flops"],
                            dram_bytes=v["dram_bytes"],
                            bound=max(v["bounds"], key=v["bounds"].__getitem__),
                            roofline_bound="compute" if v["comp"] > v["mem"] else "memory")
            for k, v in acc.items()}
