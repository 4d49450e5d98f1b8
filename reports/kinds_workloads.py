"""The ``model`` point kind: one model step (``mixforge sim model``) through the public API of
:mod:`mixforge.workloads` (zoo, recipes, ``build_model_graph``, ``simulate_model``).

Resolved config: ``hw`` (full device), ``model`` (full ``ModelConfig``), ``recipe`` (full
``Recipe``), ``phase`` (``phase``, ``batch``, ``prompt``, ``kv``, ``routing``) and ``dispatch``.
An axis may set ``model`` or ``recipe`` to a zoo / recipe *name*; it is expanded to the full
config before hashing.
"""

from __future__ import annotations

from typing import Any

from mixforge.config import from_dict, to_dict
from mixforge.errors import ConfigError
from mixforge.reports.points import (
    PointKind,
    PointResult,
    _keys,
    _resolve_hw,
    _simulator,
    canonical_json,
    register_kind,
)

__all__ = ["MODEL_METRICS"]

_PHASE = {"phase": "decode", "batch": 1, "prompt": 0, "kv": 0,
          "routing": {"kind": "uniform", "s": 1.0, "counts": []}}


def _normalise(cfg: dict[str, Any]) -> dict[str, Any]:
    from mixforge.workloads.recipes import load_recipe
    from mixforge.workloads.zoo import load_model

    if isinstance(cfg.get("model"), str):
        cfg["model"] = to_dict(load_model(cfg["model"]))
    if isinstance(cfg.get("recipe"), str):
        cfg["recipe"] = to_dict(load_recipe(cfg["recipe"]))
    return cfg


def _resolve(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.reports.points import resolve_path

    _keys(base, {"hw", "pe_rtl", "model", "recipe", "phase", "dispatch"}, file, "base")
    for need in ("model", "recipe"):
        if need not in base:
            raise ConfigError("missing required key", file=file, path=f"base.{need}")
    phase = dict(_PHASE)
    raw = base.get("phase") or {}
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping", file=file, path="base.phase")
    _keys(raw, set(_PHASE), file, "base.phase")
    phase.update(raw)
    model, recipe = base["model"], base["recipe"]
    for name, val in (("model", model), ("recipe", recipe)):
        if isinstance(val, str) and ("/" in val or val.endswith((".json", ".yaml"))):
            base = {**base, name: str(resolve_path(val, file, f"base.{name}"))}
    try:
        cfg = _normalise({"hw": _resolve_hw(base, file), "model": base["model"],
                          "recipe": base["recipe"], "phase": phase,
                          "dispatch": base.get("dispatch", "threshold")})
    except ConfigError as exc:
        if exc.file is not None:
            raise
        raise ConfigError(exc.detail, file=file, path=f"base.{exc.path or ''}") from None
    return cfg


def _evaluate(cfg: dict[str, Any]) -> PointResult:
    from mixforge.sim.cost.rtl import pe_area
    from mixforge.workloads.config import ModelConfig
    from mixforge.workloads.graph import build_model_graph
    from mixforge.workloads.recipes import Recipe
    from mixforge.workloads.report import simulate_model
    from mixforge.workloads.routing import Routing

    sim = _simulator(canonical_json(cfg["hw"]), cfg.get("dispatch") or "threshold")
    arch = sim.arch
    model = from_dict(ModelConfig, dict(cfg["model"]), path="model")
    recipe = from_dict(Recipe, dict(cfg["recipe"]), path="recipe")
    ph = cfg["phase"]
    routing = from_dict(Routing, dict(ph.get("routing") or {}), path="phase.routing")
    graph = build_model_graph(model, recipe, phase=ph["phase"], batch=ph["batch"],
                              prompt=ph["prompt"], kv=ph["kv"], routing=routing, arch=arch)
    rep = simulate_model(sim, graph)
    d = rep.as_dict()
    area = pe_area(arch)
    ept = d["energy_per_token_j"]
    classes = d["per_class"]
    dominant = max(classes.items(), key=lambda kv: kv[1]["seconds"])[0] if classes else None
    metrics = {
        "seconds": d["seconds"], "tokens_per_s": d["tokens_per_s"], "energy_j": d["energy_j"],
        "energy_per_token_j": sum(ept.values()), "roofline_seconds": d["roofline_seconds"],
        "tokens": d["tokens"], "fits": d["memory"]["fits"],
        "weight_bytes": d["memory"]["weight_bytes"], "kv_bytes": d["memory"]["kv_bytes"],
        "capacity_bytes": d["memory"]["capacity_bytes"],
        "dominant_class": dominant,
        "bound": classes[dominant]["bound"] if dominant else None,
        "array_transistors": area["array_transistors"] if area else None,
        "pe_transistors": area["transistors_per_pe"] if area else None,
        "energy_model": ("action counts x table; PE MACs and leakage from RTL synthesis"
                         if area else "action counts x table (sim/cost/tables.py)"),
        "area_model": f"Yosys CMOS transistors of {area['pe']}" if area else None,
        "provenance": d["provenance"],
    }
    roof: dict[str, Any] = {"xpu": {"peak_ops_per_s": 0.0,
                                    "bw_bytes_per_s": arch.hbm.peak_bw_bytes_per_s}}
    for mode in arch.xpu.pe.modes:
        roof["xpu"]["peak_ops_per_s"] = max(roof["xpu"]["peak_ops_per_s"],
                                            2 * arch.xpu.peak_macs_per_s(mode.w, mode.a))
    if arch.pim is not None:
        peak = max((arch.pim.peak_macs_per_s(arch.hbm, m.w, m.a) for m in arch.pim.modes),
                   default=0.0)
        roof["pim"] = {"peak_ops_per_s": 2 * peak,
                       "bw_bytes_per_s": arch.pim.bw_bytes_per_s(arch.hbm)}
    detail = {
        "energy_j": {k: v * d["tokens"] for k, v in ept.items()},
        "time_s": {f"{u} busy": s for u, s in d["unit_seconds"].items()} | {
            "simulated": d["seconds"]},
        "ops": [{"name": k, "cls": k, "ops": v["flops"], "bytes": v["dram_bytes"],
                 "seconds": v["seconds"], "energy_j": v["energy_j"]}
                for k, v in classes.items()],
        "roof": roof,
        "notes": d["notes"],
    }
    return PointResult(metrics, detail)


MODEL_METRICS = ("seconds", "tokens_per_s", "energy_j", "energy_per_token_j",
                 "roofline_seconds", "tokens", "fits", "weight_bytes", "kv_bytes",
                 "capacity_bytes", "dominant_class", "bound", "array_transistors",
                 "pe_transistors", "energy_model", "area_model", "provenance")

register_kind(PointKind("model", _resolve, _evaluate, MODEL_METRICS,
                        ("tokens_per_s", "energy_per_token_j", "array_transistors"),
                        "one model step (mixforge sim model)", normalise=_normalise))
