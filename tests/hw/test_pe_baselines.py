"""Dequantize-first baselines (INT8 x INT8 PE, FP16 MAC) on Verilator."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.baselines import DequantFirstPE, FP16MacPE
from mixforge.hw.pe.build import run_pe_testbench
from mixforge.hw.pe.specs import DequantFirstSpec, FP16MacSpec


@pytest.mark.rtl
@pytest.mark.parametrize("spec", [
    DequantFirstSpec(k=4, out="float32"),
    pytest.param(FP16MacSpec(k=4, out="float32"), marks=pytest.mark.slow)], ids=str)
def test_baseline(sim: str, spec: DequantFirstSpec | FP16MacSpec) -> None:
    name = {DequantFirstSpec(k=4, out="float32"): "mul_w4a8",
            FP16MacSpec(k=4, out="float32"): "fp16_mac_w4a16"}.get(spec, spec.kind)
    res = run_pe_testbench(spec, sim=sim, name=name, tb_params={"vectors": 20_000,
                                                               "sequences": 30})
    assert res.tests == 3 and res.failed == 0, res.failures
    assert res.mismatches == 0 and res.vectors > 20_000


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", [DequantFirstSpec(k=8, out="float16"),
                                  DequantFirstSpec(k=2, out="float32"),
                                  FP16MacSpec(k=8, out="float32")], ids=str)
def test_baseline_more(sim: str, spec: DequantFirstSpec | FP16MacSpec) -> None:
    res = run_pe_testbench(spec, sim=sim, name=spec.kind, tb_params={"vectors": 100_000})
    assert res.tests == 3 and res.failed == 0, res.failures


def test_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="k: must be one of 2, 3, 4, 8, not 16"):
        DequantFirstPE(k=16)
    with pytest.raises(ConfigError, match="out: must be one of float32, float16"):
        FP16MacPE(out="posit16_es1")
