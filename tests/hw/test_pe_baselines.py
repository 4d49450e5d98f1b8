"""Dequantize-first baselines (INT8 x INT8 PE, FP16 MAC): fast harness on Verilator (Icarus too
when installed), per-cycle latency."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.baselines import DequantFirstPE, FP16MacPE
from mixforge.hw.pe.build import run_pe_fast, run_pe_testbench
from mixforge.hw.pe.specs import DequantFirstSpec, FP16MacSpec

#: example configs' module names, so that `mixforge verify pe` reuses the cached builds
NAMES = {DequantFirstSpec(k=4, out="float32"): "mul_w4a8",
         FP16MacSpec(k=4, out="float32"): "fp16_mac_w4a16"}


def _run(spec: DequantFirstSpec | FP16MacSpec, sim: str, vectors: int) -> None:
    res = run_pe_fast(spec, sim=sim, name=NAMES.get(spec, spec.kind),
                      tb_params={"vectors": vectors, "sequences": 30})
    assert res.tests == 1 and res.failed == 0, res.failures
    recs = {r["test"]: r for r in res.records}
    assert all(r["mismatches"] == 0 and not r["timing_errors"] for r in recs.values()), recs
    if spec.kind == "mul_dequant_first":  # every (w, a) pair, full rate, latency per output
        assert recs["products_WxA_exhaustive"]["outputs"] == 256 << spec.k
    else:  # every weight x FP16 edge x scale edge
        assert recs["fp16_edges"]["outputs"] == 27 * 8 << spec.k
    assert recs["products_random"]["outputs"] == vectors
    assert recs["sequences_backpressure"]["outputs"] == 30


@pytest.mark.rtl
@pytest.mark.parametrize("spec", [DequantFirstSpec(k=4, out="float32"),
                                  FP16MacSpec(k=4, out="float32")], ids=str)
def test_baseline(sim: str, spec: DequantFirstSpec | FP16MacSpec) -> None:
    # FP16 MAC: its edge table (every weight x FP16 edge x scale edge) in full, fewer random
    # vectors in the default run; 100,000 with -m slow (test_baseline_more)
    vectors = 3_000 if sim != "verilator" else 100_000 if spec.kind != "fp16_mac" else 20_000
    _run(spec, sim, vectors)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", [DequantFirstSpec(k=8, out="float16"),
                                  DequantFirstSpec(k=2, out="float32"),
                                  FP16MacSpec(k=4, out="float32"),
                                  FP16MacSpec(k=8, out="float32")], ids=str)
def test_baseline_more(sim: str, spec: DequantFirstSpec | FP16MacSpec) -> None:
    _run(spec, sim, 100_000)


@pytest.mark.rtl
@pytest.mark.slow  # the harness checks latency on every full-rate output in the default run
def test_latency_per_cycle() -> None:
    res = run_pe_testbench(DequantFirstSpec(k=4, out="float32"), name="mul_w4a8")
    assert res.tests == 1 and res.failed == 0, res.failures


def test_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="k: must be one of 2, 3, 4, 8, not 16"):
        DequantFirstPE(k=16)
    with pytest.raises(ConfigError, match="out: must be one of float32, float16"):
        FP16MacPE(out="posit16_es1")
