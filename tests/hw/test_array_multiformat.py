"""PE arrays of the remaining PE kinds in Verilator: XR-NPE multiformat cells and the W(k)A16
FP16-MAC baseline, bit-exact per output against ``models.pe``, measured cycles == ArraySpec.

Multiformat: the run-time mode is switched between the GEMMs of one simulation (every mode,
K not a multiple of the lane count, M / N not multiples of R / C, NaR operands); K streams as
``ceil(K / L)`` 16-bit words.
"""

from __future__ import annotations

import numpy as np
import pytest
from array_checks import (  # sibling helper module
    check_bad_example_exits_2,
    check_gemm_run,
    check_mode_switching,
)

from mixforge.errors import ConfigError
from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.models.pe import MODE_LANES, MODES

# K values chosen so that K % L != 0 for the 4-lane and 2-lane modes
SHAPES_MF = [(5, 7, 6), (1, 1, 1), (9, 13, 5), (4, 6, 4)]

MF4 = ArrayConfig(rows=4, cols=4, dataflow="os", pe="multiformat", out="posit16_es1")
FP4 = ArrayConfig(rows=4, cols=4, dataflow="os", pe="fp16_mac", w_bits=4, group=8)


@pytest.mark.rtl
def test_multiformat_os4_every_mode_switched_in_one_run(sim: str) -> None:
    """Every shape in every mode, the mode changing from GEMM to GEMM; NaR operands."""
    shapes = [s for s in SHAPES_MF for _ in MODES]
    modes = [MODES[(i + i // len(MODES)) % len(MODES)] for i in range(len(shapes))]
    run = run_array_tb(MF4, shapes, modes=modes, nar=True, seed=3, sim=sim)
    check_mode_switching(run, MF4, modes)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("out", ["float32", "float16"])
def test_multiformat_os4_float_out(sim: str, out: str) -> None:
    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", pe="multiformat", out=out)
    shapes = [(6, 9, 7), (3, 5, 2), (8, 16, 8), (2, 3, 5)]
    check_gemm_run(run_array_tb(cfg, shapes, nar=True, seed=5, sim=sim), cfg, len(shapes))


@pytest.mark.rtl
@pytest.mark.slow
def test_multiformat_os8(sim: str) -> None:
    cfg = ArrayConfig(rows=8, cols=8, dataflow="os", pe="multiformat", out="float32")
    shapes = [(9, 11, 10), (5, 3, 6), (8, 8, 8), (12, 17, 3)]
    check_gemm_run(run_array_tb(cfg, shapes, nar=True, seed=9, sim=sim), cfg, len(shapes))


@pytest.mark.rtl
def test_fp16_mac_os4(sim: str) -> None:
    """W4A16 dequantize-first FP16 baseline: per-group scales / zero points (Inf/NaN scales,
    Inf/NaN activations), one rounding per output."""
    shapes = [(5, 7, 6), (1, 1, 1), (9, 20, 5), (4, 17, 4)]
    run = run_array_tb(FP4, shapes, nar=True, special=0.05, seed=4, sim=sim)
    check_gemm_run(run, FP4, len(shapes))


@pytest.mark.rtl
@pytest.mark.slow
def test_fp16_mac_os8_f16(sim: str) -> None:
    cfg = ArrayConfig(rows=8, cols=8, dataflow="os", pe="fp16_mac", w_bits=3, group=5,
                      out="float16")
    shapes = [(9, 11, 10), (12, 17, 3)]
    check_gemm_run(run_array_tb(cfg, shapes, special=0.05, seed=2, sim=sim), cfg, len(shapes))


# ---------------------------------------------------------------- pure Python


def test_multiformat_reference_is_the_pe_model() -> None:
    """The vectorised array reference equals models.pe.multiformat_mac on packed words."""
    from mixforge.hw.array.reference import multiformat_outputs, random_multiformat
    from mixforge.hw.array.tiling import pack_lane_words
    from mixforge.models.pe import multiformat_mac

    rng = np.random.default_rng(0)
    for out in ("posit16_es1", "float16", "float32"):
        cfg = ArrayConfig(rows=4, cols=4, dataflow="os", pe="multiformat", out=out)
        for mode in MODES:
            a = random_multiformat(rng, mode, (3, 7), special=0.03)
            w = random_multiformat(rng, mode, (7, 4), special=0.03)
            ref = multiformat_outputs(cfg, a, w, mode)[0]
            aw, ww = pack_lane_words(a, mode, 1), pack_lane_words(w, mode, 0)
            assert aw.shape == (3, -(-7 // MODE_LANES[mode][1]))
            for i in range(3):
                for j in range(4):
                    assert ref[i, j] == multiformat_mac(mode, aw[i], ww[:, j], out=out)


def test_fp16_mac_reference_is_the_pe_model() -> None:
    from mixforge.hw.array.reference import _fp16_patterns, fp16_mac_outputs, random_quant
    from mixforge.models.pe import fp16_mac_pe

    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", pe="fp16_mac", w_bits=4, group=4)
    rng = np.random.default_rng(1)
    a, w = _fp16_patterns(rng, (3, 10), 0.03), rng.integers(0, 16, (10, 5))
    q = random_quant(cfg, rng, 10, 5, special=0.05)
    ref = fp16_mac_outputs(cfg, a, w, q)[0]
    g = np.arange(10) // 4
    for i in range(3):
        for j in range(5):
            assert ref[i, j] == fp16_mac_pe(w[:, j], a[i], q.scale[g, j], q.zero[g, j], k=4,
                                            out="float32")
    assert len(set(ref.ravel().tolist())) > 5


def test_widths_and_timing_contract() -> None:
    assert MF4.acc_bits == 114 + 12 and MF4.out_bits == 16 and MF4.edge_latency == 2
    assert ArrayConfig(dataflow="os", pe="multiformat", max_k=1 << 20).acc_bits == 128
    assert FP4.acc_bits == 81 + 12 and FP4.out_bits == 32
    assert MF4.fold_group(8) is None and FP4.fold_group(8) is None
    assert [n for n, _, _ in MF4.x_fields()] == ["a", "b", "mode", "last"]
    assert [n for n, _, _ in FP4.x_fields()] == ["a", "b", "scale", "zero", "last"]
    # OS: one fold per output tile over ceil(K / L) beats, + 2 cycles of edge rounding
    plain = ArrayConfig(rows=4, cols=4, dataflow="os").spec
    assert MF4.spec.gemm_cycles(5, 2, 6) == plain.gemm_cycles(5, 2, 6) + 2


@pytest.mark.parametrize("kw,msg", [
    ({"pe": "multiformat", "dataflow": "os", "double_buffer": True},
     "double_buffer: needs the 'ws' dataflow, not 'os'"),
    ({"pe": "fp16_mac", "acc_depth": 0}, "acc_depth: must be an integer in 1..65536, not 0"),
    ({"pe": "multiformat", "dataflow": "os", "out": "bfloat16"},
     "out: must be 'posit16_es1', 'float16' or 'float32', not 'bfloat16'"),
    ({"pe": "fp16_mac", "dataflow": "os", "out": "posit16_es1"},
     "out: must be 'float32' or 'float16', not 'posit16_es1'"),
    ({"pe": "multiformat", "dataflow": "os", "dequant": True},
     "dequant: needs pe 'shift_add', not 'multiformat'"),
    ({"pe": "xr_npe"}, "pe: must be 'shift_add', 'posit8', 'dequant_first', 'multiformat', "
                       "'fp16_mac', 'shared_quire' or 'separate_macs', not 'xr_npe'"),
])
def test_bad_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(**kw)  # type: ignore[arg-type]


def test_unknown_mode_is_rejected() -> None:
    from mixforge.errors import FormatError
    from mixforge.hw.array.tiling import plan_gemm

    with pytest.raises(FormatError, match="mode must be one of"):
        plan_gemm(MF4, np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), mode="p32")


@pytest.mark.parametrize("edit,field", [
    (("dataflow: os ", "dataflow: os\n  double_buffer: true #"),
     "array.double_buffer: needs the 'ws' dataflow, not 'os'"),
    (("out: posit16_es1", "out: bfloat16"), "array.out: must be one of"),
    (("pe: multiformat", "pe: multi_format"), "array.pe: must be one of"),
    (("p16x1]", "p32x1]"), "verify.modes[3]: must be one of fp4x4, p4x4, p8x2, p16x1, not"),
])
def test_cli_bad_example_exits_2(tmp_path, capsys, edit: tuple[str, str], field: str) -> None:
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "examples" / "array" / "os_4x4_multiformat.yaml"
    check_bad_example_exits_2(tmp_path, capsys, src, edit, field)


@pytest.mark.rtl
def test_cli_verify_multiformat_example_json(tmp_path, capsys) -> None:
    """``mixforge verify array`` on the example (same build as the 4x4 test above)."""
    import json
    from pathlib import Path

    from mixforge.cli import main

    ex = Path(__file__).resolve().parents[2] / "examples" / "array"
    out = tmp_path / "c.json"
    assert main(["verify", "array", "--config", str(ex / "os_4x4_multiformat.yaml"),
                 "--gemm", "9,13,5", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    # one GEMM: mode fp4x4 (L = 4), K = 13 streams as 4 words
    assert (rec["mismatches"], rec["outputs"], rec["mode"], rec["lanes"]) == (0, 45, "fp4x4", 4)
    assert rec["gemm_cycles"] == MF4.spec.gemm_cycles(9, 4, 5)
    assert "PASS" in capsys.readouterr().out
