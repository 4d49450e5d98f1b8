"""Default-run check: the simulator reproduces the committed Verilator measurements.

``examples/array/measured_cycles.json`` holds first-input-to-last-output cycles of GEMMs measured
on the generated PE array in Verilator (``python benchmarks/bench_array.py`` / ``mixforge verify
array --json``). The live re-measurement is ``test_rtl_cycles.py`` (``-m slow``); this test keeps
the simulator tied to those figures in every default run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mixforge.hw.specs import ArraySpec
from mixforge.sim.arch import PeConfig, PeMode, SramBuffer, SramConfig, load_arch
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.mapping import Gemm, Mapping

ROOT = Path(__file__).resolve().parents[2]
RECORDS = json.loads((ROOT / "examples" / "array" / "measured_cycles.json").read_text())
CASES = [(rec["config"], g) for rec in RECORDS for g in rec["gemms"]
         if g["group_size"] is None and rec["config"]["pe"] == "shift_add"]


def test_enough_measured_shapes() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(("config", "gemm"), CASES,
                         ids=[f"{c['dataflow']}{c['rows']}x{c['cols']}"
                              f"{'db' if c['double_buffer'] else ''}-{g['m']}x{g['k']}x{g['n']}"
                              for c, g in CASES])
def test_sim_equals_measured(config: dict, gemm: dict) -> None:
    spec = ArraySpec(rows=config["rows"], cols=config["cols"], dataflow=config["dataflow"],
                     double_buffer=config["double_buffer"])
    arch = load_arch(ROOT / "examples" / "hw" / "ws32.yaml")
    big = SramBuffer(size_bytes=1 << 24, width_bits=1 << 16)
    pe = PeConfig(kind="shift_add", modes=(PeMode("int4", "int8"),))
    arch = replace(arch, xpu=replace(arch.xpu, array=spec, pe=pe,
                                     sram=SramConfig(big, big, big)))
    m, k, n = gemm["m"], gemm["k"], gemm["n"]
    t = simulate_gemm(arch, Gemm(m, k, n, w="int4", a="int8"), Mapping(m, k, n, "nkm", False))
    assert t.compute_cycles == gemm["gemm_cycles"], (m, k, n)


@pytest.mark.parametrize("rec", RECORDS, ids=[
    f"{r['config']['dataflow']}{r['config']['rows']}x{r['config']['cols']}-{r['config']['pe']}"
    f"{'-db' if r['config']['double_buffer'] else ''}"
    f"{'-dq' if r['config'].get('dequant') else ''}" for r in RECORDS])
def test_spec_equals_measured_every_array(rec: dict) -> None:
    """Every committed measurement (posit8, MixPE edge dequant and the dequantize-first
    baseline included) equals ``ArraySpec`` of its array, per fold and per GEMM."""
    from mixforge.hw.array.config import ArrayConfig

    spec = ArrayConfig(**rec["config"]).spec
    for g in rec["gemms"]:
        m, k, n, grp = g["m"], g["k"], g["n"], g["group_size"]
        k = -(-k // g.get("lanes", 1))  # multiformat: K streams as ceil(K / L) words
        assert g["gemm_cycles"] == spec.gemm_cycles(m, k, n, grp), (m, k, n)
        sched = spec.schedule(m, k, n, grp)
        assert [f["stream_start"] for f in g["folds"]] == [s.stream_start for s in sched]
        assert all(f["last_output"] in (-1, s.last_output)
                   for f, s in zip(g["folds"], sched, strict=True))
