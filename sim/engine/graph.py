"""Run an op graph (a model step) on a Simulator and aggregate time and energy.

A graph is a sequence of :class:`GraphNode`: one op, or a set of independent ops (MoE experts)
that the simulator splits between xPU and PIM (:meth:`Simulator.co_process`), each executed
``count`` times one after another (``count`` = the layers that share the node). Identical ops
are simulated once (the Simulator's result cache), so a 61-layer model costs a handful of
simulations. This module knows nothing about models: ``mixforge.workloads`` builds the graphs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ClassSummary:
    """Totals of one op class; ``bound`` is the bound of the ops holding most of its time."""

    seconds: float
    energy_j: float
    flops: int
    dram_bytes: int
    bound: str


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
    def energy(self) -> EnergyBreakdown:
        total = EnergyBreakdown()
        for n in self.nodes:
            total = total + n.energy
        return total

    @property
    def energy_j(self) -> float:
        return self.energy.total_j

    @property
    def unit_energy(self) -> dict[str, EnergyBreakdown]:
        """Energy of the ops that ran on each unit (``"xpu"``, ``"pim"``), by component."""
        out: dict[str, EnergyBreakdown] = {}
        for n in self.nodes:
            for u, e in n.unit_energy.items():
                out[u] = out.get(u, EnergyBreakdown()) + e
        return out

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
            "energy_j": self.energy_j, "energy_breakdown_j": self.energy.as_dict(),
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


def _run_node(sim: Simulator, node: GraphNode) -> NodeResult:
    res: OpResult | LayerResult
    if len(node.ops) == 1:
        res = sim.run_op(node.ops[0])
        ops: tuple[OpResult, ...] = (res,)
        secs = res.seconds
        unit_s: dict[str, float] = {res.unit: res.seconds}
        roof = res.roofline_seconds
    else:
        res = sim.co_process(node.ops)
        ops = res.ops
        secs = res.seconds
        unit_s = dict(res.unit_seconds)
        roof = res.roofline_seconds
    c = node.count
    unit_e: dict[str, EnergyBreakdown] = {}
    by_bound: dict[str, float] = {}
    for r in ops:
        unit_e[r.unit] = unit_e.get(r.unit, EnergyBreakdown()) + r.energy
        by_bound[r.bound] = by_bound.get(r.bound, 0.0) + r.seconds
    if isinstance(res, LayerResult) and res.extra_energy.total_j:  # DRAM interference
        unit_e["pim"] = unit_e.get("pim", EnergyBreakdown()) + res.extra_energy
    return NodeResult(node=node, result=res, seconds=secs * c, energy=_scale(res.energy, c),
                      unit_seconds={u: s * c for u, s in unit_s.items()},
                      unit_energy={u: _scale(e, c) for u, e in unit_e.items()},
                      roofline_seconds=roof * c, bound=max(by_bound, key=by_bound.__getitem__))


def _scale(e: EnergyBreakdown, c: int) -> EnergyBreakdown:
    return EnergyBreakdown(**{k: v * c for k, v in e.as_dict().items()}) if c != 1 else e


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
                                             "dram_bytes": 0, "bounds": {}})
        a["seconds"] += r.seconds
        a["energy_j"] += r.energy.total_j
        ops = r.result.ops if isinstance(r.result, LayerResult) else (r.result,)
        # from the (cached) results: lowering the ops again would cost more than the lookups
        a["flops"] += sum(2 * o.macs + o.actions.vector_ops for o in ops) * r.node.count
        a["dram_bytes"] += sum(o.dram_bytes for o in ops) * r.node.count
        a["bounds"][r.bound] = a["bounds"].get(r.bound, 0.0) + r.seconds
    return {k: ClassSummary(seconds=v["seconds"], energy_j=v["energy_j"], flops=v["flops"],
                            dram_bytes=v["dram_bytes"],
                            bound=max(v["bounds"], key=v["bounds"].__getitem__))
            for k, v in acc.items()}
