"""The ``serve`` point kind: a serving run (``mixforge sim serve``) through the public API of
:mod:`mixforge.workloads.serving` (``SimCost``, ``ServeConfig``, ``simulate``, ``summarize``).

Resolved config: ``hw``, ``model``, ``recipe`` (full, as the ``model`` kind), ``serving``
(cost-model options: ``dispatch``, ``kv_bucket``, ``routing`` (``uniform``, ``zipf:S``,
``trace:CSV``), ``expert_parallel``, ``hot_experts``, ``seed``), ``requests`` (``n``, ``rate``
per second, ``cv`` (1 = Poisson), ``prompt_len`` / ``output_len`` distributions as in
``sim serve``), ``scheduler`` (every ``ServeConfig`` field) and ``slo`` (``ttft_s``, ``tbt_s``).
Deterministic for a seed, so a stored point equals a recomputed one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mixforge.config import from_dict
from mixforge.errors import ConfigError
from mixforge.reports.kinds_workloads import _normalise
from mixforge.reports.points import PointKind, PointResult, _keys, _resolve_hw, register_kind

__all__ = ["SERVE_METRICS"]

_SERVING = {"dispatch": "duplex", "kv_bucket": 256, "routing": "uniform",
            "expert_parallel": "serial", "hot_experts": 0, "seed": 0}
_REQUESTS = {"n": 200, "rate": 1.0, "cv": 1.0, "prompt_len": "lognormal:1024:0.6:4096",
             "output_len": "lognormal:256:0.6:2048"}
_SLO = {"ttft_s": 2.0, "tbt_s": 0.1}


def _section(base: dict[str, Any], name: str, defaults: dict[str, Any], file: str
             ) -> dict[str, Any]:
    raw = base.get(name) or {}
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping", file=file, path=f"base.{name}")
    _keys(raw, set(defaults), file, f"base.{name}")
    return {**defaults, **raw}


def _resolve(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.workloads.serving.engine import ServeConfig

    _keys(base, {"hw", "pe_rtl", "model", "recipe", "serving", "requests", "scheduler", "slo"},
          file, "base")
    for need in ("model", "recipe"):
        if need not in base:
            raise ConfigError("missing required key", file=file, path=f"base.{need}")
    sched = {f.name: f.default for f in dataclasses.fields(ServeConfig)}
    cfg = {"hw": _resolve_hw(base, file), "model": base["model"], "recipe": base["recipe"],
           "serving": _section(base, "serving", _SERVING, file),
           "requests": _section(base, "requests", _REQUESTS, file),
           "scheduler": _section(base, "scheduler", sched, file),
           "slo": _section(base, "slo", _SLO, file)}
    try:
        return _normalise(cfg)
    except ConfigError as exc:
        raise ConfigError(exc.detail, file=file, path=f"base.{exc.path or ''}") from None


def _evaluate(cfg: dict[str, Any]) -> PointResult:
    import json

    import numpy as np

    from mixforge.reports.points import _simulator, canonical_json
    from mixforge.workloads.config import ModelConfig
    from mixforge.workloads.recipes import Recipe
    from mixforge.workloads.serving.arrivals import parse_length_dist, synthetic_requests
    from mixforge.workloads.serving.cost import SimCost
    from mixforge.workloads.serving.engine import ServeConfig, simulate
    from mixforge.workloads.serving.metrics import Slo, summarize
    from mixforge.workloads.serving.routing import parse_routing

    arch = _simulator(canonical_json(cfg["hw"]), "threshold").arch
    sv, rq, sc = cfg["serving"], cfg["requests"], dict(cfg["scheduler"])
    sched = from_dict(ServeConfig, sc, path="scheduler")
    cost = SimCost(arch, from_dict(ModelConfig, dict(cfg["model"]), path="model"),
                   from_dict(Recipe, dict(cfg["recipe"]), path="recipe"),
                   dispatch=sv["dispatch"], kv_bucket=sv["kv_bucket"],
                   routing=parse_routing(str(sv["routing"])), seed=sv["seed"],
                   expert_parallel=sv["expert_parallel"], hot_experts=sv["hot_experts"],
                   max_tokens=max(sched.max_batched_tokens, sched.max_batch),
                   max_seqs=sched.max_batch)
    rng = np.random.default_rng([int(sv["seed"]), 0])
    reqs = synthetic_requests(int(rq["n"]), float(rq["rate"]),
                              parse_length_dist(str(rq["prompt_len"]), path="prompt_len"),
                              parse_length_dist(str(rq["output_len"]), path="output_len"),
                              rng, cv=float(rq["cv"]))
    run = simulate(reqs, cost, sched)
    s = json.loads(json.dumps(summarize(run, Slo(**cfg["slo"])), default=float))
    lat, thr, good, en = s["latency_s"], s["throughput"], s["goodput"], s["energy"]
    metrics = {
        "tokens_per_s": thr["output_tokens_per_s"], "requests_per_s": thr["requests_per_s"],
        "goodput_requests_per_s": good["requests_per_s"],
        "goodput_tokens_per_s": good["output_tokens_per_s"], "goodput_share": good["share"],
        "ttft_p50_s": lat["ttft"]["p50"], "ttft_p99_s": lat["ttft"]["p99"],
        "tbt_p50_s": lat["tbt"]["p50"], "tbt_p99_s": lat["tbt"]["p99"],
        "tpot_p99_s": lat["tpot"]["p99"], "e2e_p99_s": lat["e2e"]["p99"],
        "energy_per_token_j": en["j_per_output_token"], "energy_j": en["total_j"],
        "served": s["requests"]["served"], "rejected": s["requests"]["rejected"],
        "duration_s": s["duration_s"], "mean_decode_batch": s["batch"]["mean_decode"],
        "pim_time_share": s["units"]["share_time"].get("pim", 0.0),
        "provenance": "mixforge.workloads.serving (iteration-level continuous batching) on "
                      "mixforge.sim op costs",
    }
    out_tok = max(thr["output_tokens"], 1)
    detail = {
        "energy_j": {k: v * out_tok for k, v in en["by_component_j_per_output_token"].items()},
        "time_s": {f"{u} busy": v * s["duration_s"]
                   for u, v in s["units"]["utilisation"].items()} | {
                       "simulated": s["duration_s"]},
        "latency_s": lat,
    }
    return PointResult(metrics, detail)


SERVE_METRICS = ("tokens_per_s", "requests_per_s", "goodput_requests_per_s",
                 "goodput_tokens_per_s", "goodput_share", "ttft_p50_s", "ttft_p99_s",
                 "tbt_p50_s", "tbt_p99_s", "tpot_p99_s", "e2e_p99_s", "energy_per_token_j",
                 "energy_j", "served", "rejected", "duration_s", "mean_decode_batch",
                 "pim_time_share", "provenance")

register_kind(PointKind("serve", _resolve, _evaluate, SERVE_METRICS,
                        ("tokens_per_s", "energy_per_token_j", "tbt_p99_s"),
                        "a serving run (mixforge sim serve)", normalise=_normalise))
