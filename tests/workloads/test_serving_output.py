"""Summary table, JSON, per-request CSV and Chrome-trace outputs of a run (closed-form cost)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from serving_fake import LinearCost

from mixforge.workloads.serving.arrivals import LengthDist, synthetic_requests
from mixforge.workloads.serving.engine import ServeConfig, simulate
from mixforge.workloads.serving.metrics import Slo, summarize, timeline
from mixforge.workloads.serving.output import (
    render_table,
    write_chrome_trace,
    write_csv,
    write_json,
)


def _run():  # type: ignore[no-untyped-def]
    reqs = synthetic_requests(120, 30.0, LengthDist("uniform", 50, 400),
                              LengthDist("uniform", 5, 60), np.random.default_rng(7))
    return simulate(reqs, LinearCost(), ServeConfig(max_batch=32))


def test_summary_fields_and_percentiles_ordered() -> None:
    s = summarize(_run(), Slo(ttft_s=0.5, tbt_s=0.05))
    for key in ("ttft", "tbt", "e2e"):
        row = s["latency_s"][key]
        assert row["p50"] <= row["p90"] <= row["p95"] <= row["p99"]
    assert s["requests"]["served"] == 120
    assert 0 < s["goodput"]["requests"] <= 120
    e = s["energy"]
    parts = sum(e["by_component_j_per_output_token"].values())
    assert abs(parts - e["j_per_output_token"]) <= 1e-9 * e["j_per_output_token"]
    assert s["units"]["share_time"] == {"xpu": 1.0}


def test_files(tmp_path: Path) -> None:
    run = _run()
    s = summarize(run)
    s["timeline"] = timeline(run)
    text = render_table(s)
    assert "TTFT" in text and "output tok/s" in text
    j = json.loads(write_json(s, tmp_path / "s.json").read_text())
    assert j["requests"]["served"] == 120 and len(j["timeline"]["kv_occupancy"]) == 50
    rows = list(csv.DictReader(write_csv(run, tmp_path / "r.csv").open()))
    assert len(rows) == 120 and rows[0]["status"] == "done"
    assert sum(int(r["generated"]) for r in rows) == int(run.requests.output.sum())
    tr = json.loads(write_chrome_trace(run, tmp_path / "t.json").read_text())
    ev = tr["traceEvents"]
    assert sum(e["ph"] == "X" and e["name"] == "iteration" for e in ev) == run.it_seconds.size
    begins = sum(e["ph"] == "b" for e in ev)
    assert begins == sum(e["ph"] == "e" for e in ev) and begins >= 2 * 120
    assert not list(tmp_path.glob(".*.tmp"))
