"""MultiFormatMAC and its separate-units baseline on Verilator (Icarus when installed)."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.build import run_pe_testbench
from mixforge.hw.pe.multiformat import MultiFormatMAC, SeparateUnitsMAC
from mixforge.hw.pe.specs import MultiFormatSpec, SeparateUnitsSpec
from mixforge.toolchain import run_yosys


def _run(spec: MultiFormatSpec, sim: str, vectors: int) -> None:
    res = run_pe_testbench(spec, sim=sim, name=spec.kind, tb_params={
        "vectors": vectors, "sequences": 30})
    assert res.tests == 7
    assert res.failed == 0, res.failures
    assert res.mismatches == 0 and res.vectors >= 65536 + 512 + vectors


@pytest.mark.rtl
def test_multiformat_posit16_out(sim: str) -> None:
    _run(MultiFormatSpec(out="posit16_es1"), sim, 100_000)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", [MultiFormatSpec(out="float32"), MultiFormatSpec(out="float16"),
                                  SeparateUnitsSpec(out="posit16_es1")], ids=str)
def test_multiformat_more(sim: str, spec: MultiFormatSpec) -> None:
    _run(spec, sim, 100_000)


@pytest.mark.slow
def test_shared_has_no_multiplier_cell_but_baseline_does() -> None:
    from mixforge.hw.export import to_verilog

    shared = to_verilog(MultiFormatMAC(out="float32"), "mf")
    sep = to_verilog(SeparateUnitsMAC(out="float32"), "su")
    script = "read_verilog {0}.v; proc; opt; tee -o {0}.txt stat\n"
    _, out = run_yosys(script.format("mf") + script.format("su").replace(
        "read_verilog", "design -reset; read_verilog"), {"mf.v": shared, "su.v": sep})
    assert "$mul" not in out["mf.txt"].decode()
    assert "$mul" in out["su.txt"].decode()


def test_bad_output_format() -> None:
    with pytest.raises(ConfigError, match="out: must be one of posit16_es1, float16, float32, "
                                          "not 'posit8_es0'"):
        MultiFormatMAC(out="posit8_es0")
    assert SeparateUnitsMAC(out="float16").latency == MultiFormatMAC().latency == 6
