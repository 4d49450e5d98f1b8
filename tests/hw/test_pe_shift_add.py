"""ShiftAddPE: cocotb on Verilator (Icarus too when installed), Yosys no-$mul check, params."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.build import run_pe_testbench
from mixforge.hw.pe.shift_add import ShiftAddPE
from mixforge.hw.pe.specs import ShiftAddSpec
from mixforge.toolchain import run_yosys

DEFAULT = [ShiftAddSpec(k=4, act="int8", group=128, out="float32"),
           ShiftAddSpec(k=2, act="int8", group=4, out="float16", ternary=True),
           ShiftAddSpec(k=4, act="fp16", group=16, out="float32")]
SLOW = [ShiftAddSpec(k=2, act="int8", group=8, out="float32"),
        ShiftAddSpec(k=3, act="int8", group=5, out="float32"),
        ShiftAddSpec(k=8, act="int8", group=128, out="float16"),
        ShiftAddSpec(k=8, act="fp16", group=32, out="float16"),
        ShiftAddSpec(k=2, act="fp16", group=128, out="float32", ternary=True)]


def _run(spec: ShiftAddSpec, sim: str, **extra: int) -> None:
    # the example config's module name, so that `mixforge verify pe` reuses the cached build
    name = "shift_add_w4a8" if spec == DEFAULT[0] else "shift_add_pe"
    res = run_pe_testbench(spec, sim=sim, name=name, tb_params=extra)
    assert res.tests == 3
    assert res.failed == 0, res.failures
    assert res.mismatches == 0 and res.vectors >= (256 << spec.k if spec.act == "int8" else
                                                   100_000)


@pytest.mark.rtl
@pytest.mark.parametrize("spec", DEFAULT, ids=lambda s: f"k{s.k}{'t' if s.ternary else ''}-"
                         f"{s.act}-g{s.group}-{s.out}")
def test_shift_add_pe(sim: str, spec: ShiftAddSpec) -> None:
    _run(spec, sim, vectors=100_000, sequences=30)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", SLOW, ids=lambda s: f"k{s.k}{'t' if s.ternary else ''}-"
                         f"{s.act}-g{s.group}-{s.out}")
def test_shift_add_pe_more_configs(sim: str, spec: ShiftAddSpec) -> None:
    _run(spec, sim, vectors=100_000, sequences=60)


@pytest.mark.parametrize("act", ["int8", "fp16"])
def test_no_multiplier_cell(act: str) -> None:
    from mixforge.hw.export import to_verilog

    text = to_verilog(ShiftAddPE(k=8, act=act, group=128, out="float32"), "sa")
    log, out = run_yosys("read_verilog sa.v; proc; opt; tee -o stat.txt stat\n", {"sa.v": text})
    stat = out["stat.txt"].decode()
    assert "$add" in stat or "$sub" in stat or "$alu" in stat, stat
    assert "$mul" not in stat, stat


@pytest.mark.parametrize("kw,msg", [
    ({"k": 0}, "k: must be one of 2, 3, 4, 8, not 0"),
    ({"k": 5}, "k: must be one of 2, 3, 4, 8, not 5"),
    ({"group": 0}, "group: must be in 1..4096, not 0"),
    ({"act": "int4"}, "act: must be one of int8, fp16, not 'int4'"),
    ({"out": "bfloat16"}, "out: must be one of float32, float16, not 'bfloat16'"),
    ({"k": 4, "ternary": True}, "ternary: ternary weights need k = 2, not 4")])
def test_bad_parameters(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ShiftAddPE(**kw)


def test_properties_come_from_the_spec() -> None:
    dut = ShiftAddPE(k=3, act="int8", group=7)
    assert dut.latency == ShiftAddSpec().latency == 7 and dut.throughput == 1.0
    assert dut.spec == ShiftAddSpec(k=3, group=7)
