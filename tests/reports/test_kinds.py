"""Model and serving points through the workloads APIs: names expand to full configs before
hashing, results match a direct call, and the report's compare table reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_specs import ROOT

from mixforge.reports.runner import run_sweep
from mixforge.reports.spec import load_spec
from mixforge.reports.store import Store
from mixforge.reports.table import SweepView, compare_table

H100 = ROOT / "examples" / "hw" / "h100_like.yaml"


def test_model_points_match_sim_model(tmp_path: Path) -> None:
    from mixforge.sim.arch import load_arch
    from mixforge.sim.engine.simulator import Simulator
    from mixforge.workloads.graph import build_model_graph
    from mixforge.workloads.recipes import load_recipe
    from mixforge.workloads.report import simulate_model
    from mixforge.workloads.zoo import load_model

    p = tmp_path / "m.yaml"
    p.write_text(f"""schema_version: 1
name: m
kind: model
base: {{hw: {H100}, model: llama-3-8b, recipe: fp16, phase: {{phase: decode, batch: 1, kv: 512}}}}
axes:
  recipe: [fp16, w4a16-g128]
  phase.batch: [1, 64]
report: {{compare: {{axis: recipe, baseline: fp16, metrics: [tokens_per_s]}}}}
""")
    spec = load_spec(p)
    pts = spec.points()
    assert isinstance(pts[0].config["recipe"], dict)  # the name became the full recipe
    assert pts[0].axes["recipe"] == "fp16"
    with Store(tmp_path / "r.db") as st:
        prog = run_sweep(spec, st)
        rows = list(st.rows("m"))
        sweep = st.sweeps()[0]
    assert prog.done == 4
    arch = load_arch(H100)
    g = build_model_graph(load_model("llama-3-8b"), load_recipe("w4a16-g128"), phase="decode",
                          batch=64, kv=512, arch=arch)
    want = simulate_model(Simulator(arch), g)
    got = next(r for r in rows if r.axes == {"recipe": "w4a16-g128", "phase.batch": 64})
    assert got.metrics["seconds"] == pytest.approx(want.seconds, rel=1e-12)
    assert got.metrics["tokens_per_s"] == pytest.approx(want.tokens_per_s, rel=1e-12)
    view = SweepView("m", "model", sweep["spec"], rows, ("tokens_per_s",))
    cmp = compare_table(view)
    assert cmp is not None
    head, table, _ = cmp
    assert head == ["batch", "recipe", "tokens_per_s gain"] and len(table) == 2
    small = float(table[0][2].rstrip("x"))
    assert small > 1.5  # INT4 weights: memory-bound decode at batch 1 runs much faster


def test_serve_points_are_deterministic(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(f"""schema_version: 1
name: s
kind: serve
base:
  hw: {H100}
  model: llama-3-8b
  recipe: fp16
  requests: {{n: 6, rate: 20.0, prompt_len: "64", output_len: "8"}}
axes:
  scheduler.max_batch: [1, 4]
""")
    spec = load_spec(p)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for db in (a, b):
        with Store(db) as st:
            prog = run_sweep(spec, st)
            assert prog.done == 2, [r.error for r in st.rows("s")]
    with Store(a, readonly=True) as sa, Store(b, readonly=True) as sb:
        ra, rb = list(sa.rows("s")), list(sb.rows("s"))
    assert [r.metrics for r in ra] == [r.metrics for r in rb]
    m1, m4 = (r.metrics for r in ra)
    assert m1["served"] == m4["served"] == 6
    assert m4["tokens_per_s"] > m1["tokens_per_s"]  # batching helps throughput
    assert m1["tbt_p99_s"] > 0 and m1["goodput_share"] >= 0
    from mixforge.reports.plots import fig_metric_lines

    with Store(a, readonly=True) as sa:
        view = SweepView("s", "serve", sa.sweeps()[0]["spec"], ra, ("tokens_per_s",))
    fig = fig_metric_lines(view, "goodput_requests_per_s")
    assert fig is not None
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [1, 4]


def test_synth_points_are_cached_by_design_hash(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import mixforge.hw.pe.synth as synth

    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[str] = []

    def fake(spec: object, name: str, **kw: object) -> dict:
        calls.append(repr(spec))
        return {"cmos_transistors": 100 + len(calls), "cmos_transistors_incl_ff": 124,
                "cells": 10, "flip_flops": 1, "parts": {"core": {"cmos_transistors_incl_ff": 90}}}

    monkeypatch.setattr(synth, "synth_pe", fake)
    p = tmp_path / "s.yaml"
    p.write_text(f"""schema_version: 1
name: area
kind: synth_pe
base: {{pe: {ROOT / 'examples/pe/shift_add_w4a8.yaml'}}}
axes:
  pe.group: [64, 128]
""")
    spec = load_spec(p)
    for db in ("a.db", "b.db"):  # a second store: the disk cache answers, Yosys is not run
        with Store(tmp_path / db) as st:
            assert run_sweep(spec, st).done == 2
    assert len(calls) == 2 and calls[0] != calls[1]
    with Store(tmp_path / "b.db", readonly=True) as st:
        rows = list(st.rows("area"))
    assert sorted(r.metrics["cmos_transistors"] for r in rows) == [101, 102]
    assert all(r.metrics["core_transistors"] == 90 for r in rows)
