"""Simulate a model step and summarise it: time, tokens/s, energy per token by component,
per-op-class shares and bounds, and whether weights + KV cache fit the device memory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mixforge.workloads.footprint import kv_cache_bytes, weight_bytes
from mixforge.workloads.graph import ModelGraph

if TYPE_CHECKING:
    from mixforge.sim.engine.graph import GraphResult
    from mixforge.sim.engine.simulator import Simulator

__all__ = ["ModelReport", "simulate_model", "render"]


@dataclass(frozen=True)
class ModelReport:
    """A simulated step of a model graph (``result``) and its memory footprint."""

    graph: ModelGraph
    result: GraphResult
    hw: str
    weight_bytes: int
    kv_bytes: int
    capacity_bytes: int

    @property
    def seconds(self) -> float:
        return self.result.seconds

    @property
    def tokens_per_s(self) -> float:
        """Tokens processed per second (decode: new tokens; prefill: prompt tokens)."""
        return self.graph.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def missing_bytes(self) -> int:
        """Bytes by which weights + KV exceed the device memory (0 when they fit)."""
        return max(0, self.weight_bytes + self.kv_bytes - self.capacity_bytes)

    def energy_per_token(self) -> dict[str, float]:
        """Joules per token by component: xPU MAC / SRAM / DRAM (incl. row activations) /
        vector unit, PIM (dynamic energy of the ops that ran on it), static (all units)."""
        ue = self.result.unit_energy
        x, p = ue.get("xpu"), ue.get("pim")
        n = self.graph.tokens
        comp = {"mac": 0.0, "sram": 0.0, "dram": 0.0, "vector": 0.0, "pim": 0.0, "static": 0.0}
        if x is not None:
            comp["mac"] += x.mac_j
            comp["sram"] += x.sram_j
            comp["dram"] += x.dram_j + x.activation_j
            comp["vector"] += x.vector_j
            comp["static"] += x.static_j
        if p is not None:
            comp["pim"] += p.total_j - p.static_j
            comp["static"] += p.static_j
        return {k: v / n for k, v in comp.items()}

    def as_dict(self) -> dict[str, Any]:
        g, r = self.graph, self.result
        total_s, total_e = r.seconds, r.energy_j
        return {
            "model": g.model.name, "recipe": g.recipe.name, "hw": self.hw, "phase": g.phase,
            "batch": g.batch, "q_len": g.q_len, "kv_len": g.kv_len, "tokens": g.tokens,
            "seconds": total_s, "roofline_seconds": r.roofline_seconds,
            "roofline_bound": r.roofline_bound,
            "flops": sum(v.flops for v in r.per_class.values()),
            "dram_bytes": sum(v.dram_bytes for v in r.per_class.values()),
            "tokens_per_s": self.tokens_per_s, "energy_j": total_e,
            "energy_per_token_j": self.energy_per_token(),
            "unit_seconds": r.unit_seconds,
            "per_class": {k: {"seconds": v.seconds, "time_share": v.seconds / total_s,
                              "energy_j": v.energy_j, "energy_share": v.energy_j / total_e,
                              "flops": v.flops, "dram_bytes": v.dram_bytes, "bound": v.bound,
                              "roofline_bound": v.roofline_bound}
                          for k, v in r.per_class.items()},
            "memory": {"what": "weights (scales included) + KV cache; activations and "
                               "workspace not counted",
                       "weight_bytes": self.weight_bytes, "kv_bytes": self.kv_bytes,
                       "capacity_bytes": self.capacity_bytes,
                       "fits": self.missing_bytes == 0, "missing_bytes": self.missing_bytes},
            "expert_tokens": list(g.expert_load),
            "notes": sorted({n.node.note for n in r.nodes if n.node.note}),
            "nodes": r.as_dict()["nodes"],
            "model_source": g.model.source,
            "provenance": "simulated by mixforge.sim (xPU cycle model + HBM model + PIM model); "
                          "times are >= each op's roofline bound",
        }


def simulate_model(sim: Simulator, graph: ModelGraph) -> ModelReport:
    """Run ``graph`` on ``sim`` and attach its memory footprint on ``sim.arch``."""
    res = sim.run_graph(graph)
    g = graph
    lens = Counter(g.kv_lens or (g.kv_len,) * g.batch)
    kv = sum(kv_cache_bytes(g.model, g.recipe, n, length) for length, n in lens.items())
    return ModelReport(graph=g, result=res, hw=sim.arch.name,
                       weight_bytes=weight_bytes(g.model, g.recipe, g.expert_load),
                       kv_bytes=kv,
                       capacity_bytes=sim.arch.hbm.capacity_bytes)


def _gb(x: float) -> str:
    return f"{x / 1e9:,.2f} GB"


def render(rep: ModelReport) -> str:
    """Human-readable summary (what ``mixforge sim model`` prints)."""
    d = rep.as_dict()
    g = rep.graph
    what = f"prompt {g.q_len}" if g.phase == "prefill" else f"KV {g.kv_len}"
    lines = [f"{d['model']} / {d['recipe']} on {d['hw']}: {g.phase}, batch {g.batch}, {what}",
             f"  time per step   {rep.seconds * 1e3:,.3f} ms  (roofline bound "
             f"{d['roofline_seconds'] * 1e3:,.3f} ms)",
             f"  bound           {d['roofline_bound']} (xPU roofline of the whole step)",
             f"  tokens/s        {rep.tokens_per_s:,.1f}",
             f"  work            {d['flops'] / 1e12:,.3f} TFLOP, {d['dram_bytes'] / 1e9:,.3f} GB "
             "DRAM traffic (simulated)",
             f"  energy/token    {sum(d['energy_per_token_j'].values()) * 1e3:,.4f} mJ  ("
             + ", ".join(f"{k} {v * 1e3:,.4f}" for k, v in d["energy_per_token_j"].items())
             + " mJ)"]
    mem = d["memory"]
    fit = "fits" if mem["fits"] else f"does NOT fit: {_gb(mem['missing_bytes'])} missing"
    lines.append(f"  memory          weights {_gb(mem['weight_bytes'])} + KV "
                 f"{_gb(mem['kv_bytes'])} of {_gb(mem['capacity_bytes'])}: {fit}")
    lines.append(f"  {'op class':<18}{'time':>8}{'energy':>8}  {'simulated bound':<17}roofline")
    rows = sorted(d["per_class"].items(), key=lambda kv: -kv[1]["seconds"])
    for name, v in rows:
        lines.append(f"  {name:<18}{v['time_share']:>8.1%}{v['energy_share']:>8.1%}  "
                     f"{v['bound']:<17}{v['roofline_bound']}")
    for note in d["notes"]:
        lines.append(f"  note: {note}")
    return "\n".join(lines)
