"""ShiftAddPE: fast harness on Verilator (Icarus too when installed), per-cycle latency, Yosys
no-$mul check, parameters."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.build import run_pe_fast, run_pe_testbench
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


def _ids(s: ShiftAddSpec) -> str:
    return f"k{s.k}{'t' if s.ternary else ''}-{s.act}-g{s.group}-{s.out}"


def _run(spec: ShiftAddSpec, sim: str, vectors: int, sequences: int) -> None:
    # the example config's module name, so that `mixforge verify pe` reuses the cached build
    name = "shift_add_w4a8" if spec == DEFAULT[0] else "shift_add_pe"
    res = run_pe_fast(spec, sim=sim, name=name, tb_params={"vectors": vectors,
                                                           "sequences": sequences})
    assert res.tests == 1 and res.failed == 0, res.failures
    recs = {r["test"]: r for r in res.records}
    assert all(r["mismatches"] == 0 and not r["timing_errors"] for r in recs.values()), recs
    if spec.act == "int8":  # every (w, a) pair, at full rate with latency checked per output
        assert recs["products_WxA_exhaustive"]["outputs"] == 256 << spec.k
    else:
        assert recs["fp16_edges"]["outputs"] >= 27 * 8 << spec.k
        assert recs["fp16_random"]["outputs"] == vectors
    seq = recs["sequences_backpressure"]
    assert seq["outputs"] == sequences and seq["vectors"] >= sequences


@pytest.mark.rtl
@pytest.mark.parametrize("spec", DEFAULT, ids=_ids)
def test_shift_add_pe(sim: str, spec: ShiftAddSpec) -> None:
    # Icarus is ~50x slower than Verilator: the default run checks fewer random vectors there
    _run(spec, sim, 100_000 if sim == "verilator" else 3_000, 30 if sim == "verilator" else 8)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", SLOW, ids=_ids)
def test_shift_add_pe_more_configs(sim: str, spec: ShiftAddSpec) -> None:
    _run(spec, sim, 100_000, 60)


@pytest.mark.rtl
@pytest.mark.slow  # the harness checks latency on every full-rate output in the default run
@pytest.mark.parametrize("spec", [DEFAULT[0], DEFAULT[2]], ids=_ids)
def test_latency_per_cycle(spec: ShiftAddSpec) -> None:
    """The per-cycle testbench measures the latency the harness checks on every output."""
    res = run_pe_testbench(spec, name="shift_add_w4a8" if spec == DEFAULT[0] else "sa_pc")
    assert res.tests == 1 and res.failed == 0, res.failures


@pytest.mark.parametrize("dequant", ["parallel", "serial"])
@pytest.mark.parametrize("act", ["int8", "fp16"])
def test_no_multiplier_cell(act: str, dequant: str) -> None:
    from mixforge.hw.export import to_verilog

    text = to_verilog(ShiftAddPE(k=8, act=act, group=128, out="float32", dequant=dequant), "sa")
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
