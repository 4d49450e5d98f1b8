"""MultiFormatMAC and its two baselines (separate units with a shared quire, separate MACs) on
Verilator (Icarus when installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.errors import ConfigError, FormatError
from mixforge.hw.pe.build import export_pe, run_pe_testbench
from mixforge.hw.pe.multiformat import MultiFormatMAC, SharedQuireMAC
from mixforge.hw.pe.separate_macs import SeparateMacsMAC
from mixforge.hw.pe.specs import (
    MultiFormatSpec,
    SeparateMacsSpec,
    SharedQuireSpec,
    load_pe_config,
)
from mixforge.models import pe as ref
from mixforge.toolchain import run_yosys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pe"


def _run(spec: MultiFormatSpec, sim: str, vectors: int) -> None:
    res = run_pe_testbench(spec, sim=sim, name=spec.kind, tb_params={
        "vectors": vectors, "sequences": 30})
    assert res.tests == 7
    assert res.failed == 0, res.failures
    assert res.mismatches == 0 and res.vectors >= 65536 + 512 + vectors


@pytest.mark.rtl
def test_multiformat_posit16_out(sim: str) -> None:
    """The per-cycle testbench (lane gating, latency per cycle); the 100,000 random posit16
    vectors run in the harness (test_pe_fast.py) and under ``-m slow`` here."""
    _run(MultiFormatSpec(out="posit16_es1"), sim, 20_000)


@pytest.mark.rtl
@pytest.mark.slow
def test_multiformat_posit16_out_100k(sim: str) -> None:
    _run(MultiFormatSpec(out="posit16_es1"), sim, 100_000)


@pytest.mark.rtl
def test_separate_macs_posit16_out() -> None:
    """The separate-MACs baseline: exhaustive FP4 / posit4 / posit8, posit16 edges + random,
    constant-mode accumulation sequences (mode switching between them), latency, gating."""
    _run(SeparateMacsSpec(out="posit16_es1"), "verilator", 20_000)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", [MultiFormatSpec(out="float32"), MultiFormatSpec(out="float16"),
                                  SharedQuireSpec(out="posit16_es1"),
                                  SeparateMacsSpec(out="float32"),
                                  SeparateMacsSpec(out="float16")], ids=str)
def test_multiformat_more(sim: str, spec: MultiFormatSpec) -> None:
    _run(spec, sim, 100_000)


@pytest.mark.slow
def test_shared_has_no_multiplier_cell_but_baselines_do() -> None:
    from mixforge.hw.export import to_verilog

    designs = {"mf": MultiFormatMAC(out="float32"), "su": SharedQuireMAC(out="float32"),
               "sm": SeparateMacsMAC(out="float32")}
    script = "".join(f"design -reset; read_verilog {n}.v; proc; opt; tee -o {n}.txt stat\n"
                     for n in designs)
    _, out = run_yosys(script, {f"{n}.v": to_verilog(d, n) for n, d in designs.items()})
    assert "$mul" not in out["mf.txt"].decode()
    assert "$mul" in out["su.txt"].decode()
    assert "$mul" in out["sm.txt"].decode()


def test_bad_output_format() -> None:
    with pytest.raises(ConfigError, match="out: must be one of posit16_es1, float16, float32, "
                                          "not 'posit8_es0'"):
        MultiFormatMAC(out="posit8_es0")
    with pytest.raises(ConfigError, match="out: must be one of"):
        SeparateMacsMAC(out="bfloat16")
    assert (SharedQuireMAC(out="float16").latency == MultiFormatMAC().latency
            == SeparateMacsMAC().latency == 6)
    assert SeparateMacsMAC().throughput == MultiFormatMAC().throughput == 1.0


def test_separate_macs_example_config(tmp_path: Path) -> None:
    cfg = load_pe_config(EXAMPLES / "separate_units.yaml")
    assert cfg.spec == SeparateMacsSpec() and cfg.spec.kind == "separate_macs"
    exp = export_pe(cfg.spec, cfg.name, tmp_path)
    assert "module separate_units" in exp.verilog.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: x\npe: {kind: separate_macs, lanes: 4}\n")
    with pytest.raises(ConfigError, match="bad.yaml.*pe.lanes"):
        load_pe_config(bad)


def _max_element(mode: str) -> int:
    """Largest |sum of one element's lane products| of ``mode``, in its accumulator LSBs."""
    fmt, lanes, _ = ref.mac_lane_formats(mode)
    lw = 16 // lanes
    vals = [ref.decode_value(fmt, x) for x in range(1 << lw)]
    big = max(abs(s) << e for s, e, sp in vals if not sp and e >= 0 and s)
    big = max([big] + [abs(s) >> -e for s, e, sp in vals if not sp and e < 0 and s])
    small = min(e for s, e, sp in vals if not sp and s)  # LSB exponent of the smallest step
    lsb = ref.SEPARATE_ACC[mode][1]
    assert 2 * small <= lsb, mode  # products are multiples of 2**lsb (minpos**2)
    exact = max(abs(s) * 2.0 ** e for s, e, sp in vals if not sp)  # exact: small powers of 2
    return int(lanes * exact * exact * 2.0 ** -lsb)


@pytest.mark.parametrize("mode", ref.MODES)
def test_separate_acc_widths(mode: str) -> None:
    """Each MAC's accumulator holds any sum of fewer than 2**15 elements, as the quire does."""
    bits, lsb = ref.SEPARATE_ACC[mode]
    fmt, lanes, lw = ref.mac_lane_formats(mode)
    minpos = min(abs(s) * 2.0 ** e for s, e, sp in
                 (ref.decode_value(fmt, x) for x in range(1 << lw)) if not sp and s)
    assert minpos * minpos == 2.0 ** lsb
    assert bits == (((1 << 15) - 1) * _max_element(mode)).bit_length() + 1


def test_separate_macs_model() -> None:
    """Constant-mode sequences equal multiformat_mac; mixed ones read out the last mode's MAC;
    a narrow accumulator wraps at its own width."""
    rng = np.random.default_rng(3)
    for q in range(200):
        mode = ref.MODES[q % 4]
        n = int(rng.integers(1, 40))
        a, b = rng.integers(0, 1 << 16, n), rng.integers(0, 1 << 16, n)
        for out in ref.OUT_FORMATS:
            assert (ref.separate_macs_mac(mode, a, b, out=out)
                    == ref.multiformat_mac(mode, a, b, out=out))
        modes = [ref.MODES[int(x)] for x in rng.integers(0, 4, n)]
        keep = [i for i in range(n) if modes[i] == modes[-1]]
        assert (ref.separate_macs_mac(modes, a, b, out="float32")
                == ref.multiformat_mac(modes[-1], a[keep], b[keep], out="float32"))
    # 2**15 elements of 4 x maxpos**2 = 4 x 256 overflow the 34-bit posit4 accumulator by
    # exactly one LSB (it wraps to -2**33 LSBs); the 128-bit quire does not
    n = 1 << 15
    big = 0x7777  # posit(4,1) 0b0111 = maxpos = 16 in every lane
    assert ref.multiformat_mac("p4x4", [big] * n, [big] * n, out="float32") == 0x4C000000  # 2**25
    assert ref.separate_macs_mac("p4x4", [big] * n, [big] * n, out="float32") == 0xCC000000
    with pytest.raises(FormatError, match="at least one element"):
        ref.separate_macs_mac("p8x2", [], [], out="float32")
