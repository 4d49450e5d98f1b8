"""Serving metrics from a :class:`~mixforge.workloads.serving.engine.ServeRun`.

Definitions: TTFT = first token - arrival; TBT = every gap between two consecutive tokens of a
request (preemption stalls included); e2e = last token - arrival; TPOT = a request's mean TBT.
Goodput counts the requests with TTFT <= ``slo_ttft_s`` and TPOT <= ``slo_tbt_s`` (DistServe's
definition), per second of the run. The run lasts from the first arrival to the last finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mixforge.workloads.serving.engine import DONE, REJECTED, ServeRun

__all__ = ["PERCENTILES", "Slo", "summarize", "request_table", "timeline"]

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Slo:
    """Service-level objectives for goodput (seconds)."""

    ttft_s: float = 2.0
    tbt_s: float = 0.1


def _pct(x: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {f"p{p}": None for p in PERCENTILES}
    out["mean"] = None
    if x.size:
        for p, v in zip(PERCENTILES, np.percentile(x, PERCENTILES), strict=True):
            out[f"p{p}"] = float(v)
        out["mean"] = float(x.mean())
    return out


def request_table(run: ServeRun) -> dict[str, np.ndarray]:
    """Per-request columns (id order): arrival, lengths, status, TTFT, TPOT, e2e, preemptions."""
    r = run.requests
    ttft = run.first_token_s - r.arrival_s
    e2e = run.finish_s - r.arrival_s
    steps = np.maximum(r.output - 1, 1)
    tpot = np.where(r.output > 1, (run.finish_s - run.first_token_s) / steps, 0.0)
    tpot = np.where(run.status == DONE, tpot, np.nan)
    status = np.array(["waiting", "running", "done", "rejected", "swapped"])[run.status]
    return {"id": np.arange(len(r)), "arrival_s": r.arrival_s, "prompt_tokens": r.prompt,
            "output_tokens": r.output, "status": status, "queue_s": run.first_scheduled_s
            - r.arrival_s, "ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e,
            "finish_s": run.finish_s, "generated": run.generated,
            "preemptions": run.preemptions}


def timeline(run: ServeRun, bins: int = 50) -> dict[str, Any]:
    """Per-unit utilisation and KV occupancy averaged over ``bins`` equal time windows."""
    end = float(np.nanmax(run.finish_s)) if np.any(run.status == DONE) else 0.0
    if end <= 0 or run.it_start_s.size == 0:
        return {"bin_s": 0.0, "t_s": [], "utilisation": {}, "kv_occupancy": [],
                "batch": []}
    edges = np.linspace(0.0, end, bins + 1)
    width = end / bins
    idx = np.clip(np.searchsorted(edges, run.it_start_s, side="right") - 1, 0, bins - 1)
    util = {u: (np.bincount(idx, run.it_unit_busy_s[:, j], bins) / width).clip(0, 1).tolist()
            for j, u in enumerate(run.units)}
    busy = np.bincount(idx, run.it_seconds, bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        kv = np.bincount(idx, run.it_kv_tokens * run.it_seconds, bins) / busy \
            / run.kv_capacity_tokens
        batch = np.bincount(idx, run.it_decode * run.it_seconds, bins) / busy
    return {"bin_s": width, "t_s": edges[:-1].tolist(), "utilisation": util,
            "kv_occupancy": np.nan_to_num(kv).tolist(), "batch": np.nan_to_num(batch).tolist()}


def summarize(run: ServeRun, slo: Slo = Slo()) -> dict[str, Any]:
    """The run's summary (the ``--json`` payload, minus the cost model's description)."""
    r = run.requests
    done = run.status == DONE
    n_done = int(done.sum())
    end = float(np.nanmax(run.finish_s)) if n_done else 0.0
    start = float(r.arrival_s[0]) if len(r) else 0.0
    dur = max(end - start, 1e-30)
    tab = request_table(run)
    out_tok = int(r.output[done].sum())
    ttft, tpot, e2e = tab["ttft_s"][done], tab["tpot_s"][done], tab["e2e_s"][done]
    good = done & (tab["ttft_s"] <= slo.ttft_s) & (np.nan_to_num(tab["tpot_s"], nan=np.inf)
                                                   <= slo.tbt_s)
    energy = run.it_energy_j.sum(axis=0)
    e_total = float(energy.sum())
    busy = run.it_unit_busy_s.sum(axis=0)
    flops = run.it_unit_flops.sum(axis=0)
    nbytes = run.it_unit_bytes.sum(axis=0)
    uenergy = run.it_unit_energy_j.sum(axis=0)

    def share(v: np.ndarray) -> dict[str, float]:
        tot = float(v.sum())
        return {u: float(v[j] / tot) if tot else 0.0 for j, u in enumerate(run.units)}

    # Little's law on the simulated system: time-average of requests in the system (sampled
    # at iteration starts, zero while idle) vs arrival rate x mean time in system
    sim_time = float(run.it_seconds.sum())
    l_avg = float((run.it_in_system * run.it_seconds).sum() / dur)
    lam = (n_done) / dur
    w = float(e2e.mean()) if n_done else 0.0
    experts: dict[str, Any] | None = None
    if run.expert_tokens is not None:
        tot = run.expert_tokens.sum(axis=0)
        mean = float(tot.mean())
        per_it = run.expert_tokens
        it_imb = per_it.max(axis=1) / np.maximum(per_it.mean(axis=1), 1e-30)
        experts = {"tokens": tot.astype(np.int64).tolist(),
                   "share": (tot / max(tot.sum(), 1)).tolist(),
                   "imbalance_total": float(tot.max() / mean) if mean else 0.0,
                   "imbalance_per_iteration_mean": float(it_imb.mean())}
    return {
        "requests": {"total": len(r), "served": n_done,
                     "rejected": int((run.status == REJECTED).sum()),
                     "source": r.source},
        "duration_s": dur, "busy_s": sim_time, "iterations": int(run.it_seconds.size),
        "throughput": {"output_tokens_per_s": out_tok / dur, "requests_per_s": n_done / dur,
                       "output_tokens": out_tok,
                       "prompt_tokens": int(r.prompt[done].sum())},
        "latency_s": {"ttft": _pct(ttft), "tbt": _pct(run.tbt_s), "tpot": _pct(tpot),
                      "e2e": _pct(e2e)},
        "goodput": {"slo_ttft_s": slo.ttft_s, "slo_tbt_s": slo.tbt_s,
                    "requests": int(good.sum()), "requests_per_s": float(good.sum()) / dur,
                    "output_tokens_per_s": float(r.output[good].sum()) / dur,
                    "share": float(good.sum()) / max(n_done, 1)},
        "energy": {"total_j": e_total, "j_per_output_token": e_total / max(out_tok, 1),
                   "by_component_j_per_output_token": {
                       c: float(energy[i]) / max(out_tok, 1)
                       for i, c in enumerate(run.energy_components)}},
        "units": {"utilisation": {u: float(busy[j] / dur) for j, u in enumerate(run.units)},
                  "share_time": share(busy), "share_flops": share(flops),
                  "share_bytes": share(nbytes), "share_energy": share(uenergy)},
        "batch": {"mean_decode": float((run.it_decode * run.it_seconds).sum()
                                       / max(sim_time, 1e-30)),
                  "max_decode": int(run.it_decode.max(initial=0))},
        "kv": {"capacity_tokens": run.kv_capacity_tokens,
               "peak_occupancy": float(run.it_kv_tokens.max(initial=0)
                                       / run.kv_capacity_tokens),
               "mean_occupancy": float((run.it_kv_tokens * run.it_seconds).sum()
                                       / max(sim_time, 1e-30) / run.kv_capacity_tokens)},
        "preemptions": {"total": int(run.preemptions.sum()),
                        "requests": int((run.preemptions > 0).sum()),
                        "policy": run.config.preemption, "swap_bytes": run.swap_bytes},
        "littles_law": {"L_time_avg": l_avg, "lambda_per_s": lam, "W_s": w,
                        "lambda_W": lam * w},
        "experts": experts,
    }
