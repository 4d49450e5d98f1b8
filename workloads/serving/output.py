"""Serving results out: terminal table, JSON summary, per-request CSV, Chrome-trace timeline.

Every file is written to a temporary name in its folder and moved into place (``os.replace``).
The Chrome-trace JSON (``--trace-out``) opens in Perfetto (ui.perfetto.dev) or chrome://tracing:
one track per unit (busy time of each iteration), an iteration track, counters for the decode
batch and KV occupancy, and one async span per request (queued / prefill / decode).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from mixforge.workloads.serving.engine import ServeRun
from mixforge.workloads.serving.metrics import request_table

__all__ = ["render_table", "write_json", "write_csv", "write_chrome_trace"]


def _atomic(path: str | Path, write: Callable[[IO[str]], object]) -> Path:
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    with tmp.open("w", newline="") as fh:
        write(fh)
    os.replace(tmp, p)
    return p


def _clean(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(summary: dict[str, Any], path: str | Path) -> Path:
    """The summary as JSON."""
    text = json.dumps(_clean(summary), indent=2) + "\n"
    return _atomic(path, lambda fh: fh.write(text))


def write_csv(run: ServeRun, path: str | Path) -> Path:
    """One row per request (times in seconds; empty when not applicable)."""
    tab = request_table(run)
    cols = list(tab)
    rows = zip(*(tab[c].tolist() for c in cols), strict=True)

    def fmt(v: Any) -> Any:
        if isinstance(v, float):
            return "" if not math.isfinite(v) else f"{v:.9g}"
        return v

    def write(fh: IO[str]) -> None:
        w = csv.writer(fh)
        w.writerow(cols)
        for row in rows:
            w.writerow([fmt(v) for v in row])

    return _atomic(path, write)


def write_chrome_trace(run: ServeRun, path: str | Path, *, max_requests: int = 5000) -> Path:
    """Chrome-trace JSON timeline (microseconds); at most ``max_requests`` request spans."""
    us = 1e6
    ev: list[dict[str, Any]] = [
        {"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "device"}},
        {"ph": "M", "pid": 2, "name": "process_name", "args": {"name": "requests"}},
        {"ph": "M", "pid": 1, "tid": 0, "name": "thread_name", "args": {"name": "iterations"}},
    ]
    for j, u in enumerate(run.units, start=1):
        ev.append({"ph": "M", "pid": 1, "tid": j, "name": "thread_name", "args": {"name": u}})
    start = run.it_start_s.tolist()
    secs = run.it_seconds.tolist()
    dec = run.it_decode.tolist()
    pf = run.it_prefill.tolist()
    kv = (run.it_kv_tokens / run.kv_capacity_tokens).tolist()
    busy = run.it_unit_busy_s.tolist()
    for i, (t, s) in enumerate(zip(start, secs, strict=True)):
        ev.append({"ph": "X", "pid": 1, "tid": 0, "name": "iteration", "ts": t * us,
                   "dur": s * us, "args": {"i": i, "decode": dec[i], "prefill_tokens": pf[i]}})
        for j, b in enumerate(busy[i], start=1):
            if b > 0:
                ev.append({"ph": "X", "pid": 1, "tid": j, "name": run.units[j - 1],
                           "ts": t * us, "dur": b * us})
        ev.append({"ph": "C", "pid": 1, "name": "batch", "ts": t * us,
                   "args": {"decode": dec[i], "prefill_tokens": pf[i]}})
        ev.append({"ph": "C", "pid": 1, "name": "kv_occupancy", "ts": t * us,
                   "args": {"share": kv[i]}})
    r = run.requests
    arr, sched = r.arrival_s.tolist(), run.first_scheduled_s.tolist()
    first, fin = run.first_token_s.tolist(), run.finish_s.tolist()
    for i in range(min(len(r), max_requests)):
        spans = (("queued", arr[i], sched[i]), ("prefill", sched[i], first[i]),
                 ("decode", first[i], fin[i]))
        for name, a, b in spans:
            if math.isfinite(a) and math.isfinite(b) and b > a:
                ev.append({"ph": "b", "cat": "request", "id": i, "pid": 2, "name": name,
                           "ts": a * us, "args": {"request": i}})
                ev.append({"ph": "e", "cat": "request", "id": i, "pid": 2, "name": name,
                           "ts": b * us})
    doc = {"traceEvents": ev, "displayTimeUnit": "ms",
           "otherData": {"requests_shown": min(len(r), max_requests),
                         "requests_total": len(r)}}
    text = json.dumps(doc, separators=(",", ":"))
    return _atomic(path, lambda fh: fh.write(text))


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1e3:,.1f}"


def render_table(summary: dict[str, Any]) -> str:
    """The terminal summary."""
    s = summary
    req, thr, lat = s["requests"], s["throughput"], s["latency_s"]
    lines = []
    if "setup" in s:
        lines.append(s["setup"])
    lines.append(f"requests  {req['served']:,} served, {req['rejected']:,} rejected "
                 f"({req['source']})")
    lines.append(f"run       {s['duration_s']:,.2f} s simulated, {s['iterations']:,} "
                 f"iterations, mean decode batch {s['batch']['mean_decode']:.1f} "
                 f"(max {s['batch']['max_decode']})")
    lines.append(f"throughput {thr['output_tokens_per_s']:,.1f} output tok/s, "
                 f"{thr['requests_per_s']:,.3f} req/s")
    g = s["goodput"]
    lines.append(f"goodput   {g['requests_per_s']:,.3f} req/s ({g['share']:.1%} of served meet "
                 f"TTFT <= {g['slo_ttft_s']:g} s and TPOT <= {g['slo_tbt_s']:g} s)")
    lines.append("")
    lines.append(f"{'latency (ms)':<14}{'p50':>10}{'p90':>10}{'p95':>10}{'p99':>10}{'mean':>10}")
    for key in ("ttft", "tbt", "tpot", "e2e"):
        row = lat[key]
        lines.append(f"{key.upper():<14}" + "".join(f"{_ms(row[k]):>10}" for k in
                                                      ("p50", "p90", "p95", "p99", "mean")))
    lines.append("")
    e = s["energy"]
    parts = ", ".join(f"{k.removesuffix('_j')} {v * 1e3:.2f}"
                      for k, v in e["by_component_j_per_output_token"].items() if v)
    lines.append(f"energy    {e['j_per_output_token'] * 1e3:,.2f} mJ/output token ({parts})")
    u = s["units"]
    for unit, util in u["utilisation"].items():
        lines.append(f"{unit:<9} utilisation {util:.1%}; share of time "
                     f"{u['share_time'][unit]:.1%}, FLOPs {u['share_flops'][unit]:.1%}, "
                     f"bytes {u['share_bytes'][unit]:.1%}, energy {u['share_energy'][unit]:.1%}")
    kv, pre = s["kv"], s["preemptions"]
    lines.append(f"KV cache  {kv['capacity_tokens']:,} tokens; occupancy mean "
                 f"{kv['mean_occupancy']:.1%}, peak {kv['peak_occupancy']:.1%}; preemptions "
                 f"{pre['total']:,} ({pre['policy']})")
    if s.get("experts"):
        ex = s["experts"]
        share = " ".join(f"{x:.0%}" for x in ex["share"][:16])
        more = " ..." if len(ex["share"]) > 16 else ""
        lines.append(f"experts   load share {share}{more}; imbalance max/mean "
                     f"{ex['imbalance_per_iteration_mean']:.2f} per iteration")
    if "cost" in s:
        c = s["cost"]
        if "cache" in c:
            sim = c["cache"].get("simulator", {})
            lines.append(f"caches    {c['cache']['hit_rate']:.1%} of iteration pieces reused; "
                         f"simulator {sim.get('hit_rate', 0.0):.1%} hit rate, "
                         f"{sim.get('misses', 0):,} op shapes simulated")
        for note in c.get("notes", []):
            lines.append(f"note      {note}")
    return "\n".join(lines)
