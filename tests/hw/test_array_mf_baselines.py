"""PE arrays of the multi-format MAC's baselines in Verilator: ``pe: shared_quire``
(``SharedQuireMAC`` cells: per-format decoders and ``*`` multipliers, one quire per cell) and
``pe: separate_macs`` (``SeparateMacsMAC`` cells: one complete MAC per format, per-format
accumulators, the edge rounds each and muxes the active one), bit-exact per output against
``models.pe.multiformat_mac`` / ``models.pe.separate_macs_mac``, measured cycles == ArraySpec.

Every mode, switched between the GEMMs of one simulation; shapes not multiples of R, C or of
the lane count L; NaR operands (posit modes), NaN / Inf outputs (float outputs, ``slow``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from array_checks import (  # sibling helper module
    check_bad_example_exits_2,
    check_gemm_run,
    check_mode_switching,
)

from mixforge.errors import ConfigError
from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.models.pe import MODE_LANES, MODES, SEPARATE_ACC

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "array"
# K not a multiple of 4 or 2, M / N not multiples of R = C = 4
SHAPES = [(5, 7, 6), (1, 1, 1), (9, 13, 5), (3, 6, 2)]

SQ4 = ArrayConfig(rows=4, cols=4, dataflow="os", pe="shared_quire", out="posit16_es1")
SM4 = ArrayConfig(rows=4, cols=4, dataflow="os", pe="separate_macs", out="posit16_es1")


def _switched(shapes: list[tuple[int, int, int]]) -> tuple[list[tuple[int, int, int]],
                                                            list[str]]:
    """Every shape in every mode, the mode changing from GEMM to GEMM."""
    every = [s for s in shapes for _ in MODES]
    return every, [MODES[(i + i // len(MODES)) % len(MODES)] for i in range(len(every))]


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", [SQ4, SM4], ids=lambda c: c.pe)
def test_os4_every_mode_switched_in_one_run(sim: str, cfg: ArrayConfig) -> None:
    shapes, modes = _switched(SHAPES[:3])
    run = run_array_tb(cfg, shapes, modes=modes, nar=True, seed=11, sim=sim)
    check_mode_switching(run, cfg, modes)


@pytest.mark.rtl
def test_measure_gemm_cycles_separate_macs(tmp_path: Path) -> None:
    """``measure_gemm_cycles`` (same build as above): one GEMM, JSON for sim/."""
    from mixforge.hw.array import measure_gemm_cycles

    out = tmp_path / "c.json"
    meas = measure_gemm_cycles(SM4, 6, 11, 5, mode="p8x2", json_out=out)
    assert meas.mode == "p8x2" and meas.lanes == 2 and meas.mismatches == 0
    assert meas.gemm_cycles == SM4.spec.gemm_cycles(6, 6, 5) == meas.spec_cycles
    assert json.loads(out.read_text())["gemm_cycles"] == meas.gemm_cycles


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("pe", ["shared_quire", "separate_macs"])
@pytest.mark.parametrize("out", ["float32", "float16"])
def test_os4_float_out(sim: str, pe: str, out: str) -> None:
    """Float outputs: NaR inputs give NaN, float16 overflows (posit16 products) give Inf."""
    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", pe=pe, out=out)
    shapes, modes = _switched([(6, 9, 7), (3, 5, 2), (8, 16, 8)])
    check_mode_switching(run_array_tb(cfg, shapes, modes=modes, nar=True, seed=5, sim=sim),
                         cfg, modes)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("pe", ["shared_quire", "separate_macs"])
def test_os8(sim: str, pe: str) -> None:
    cfg = ArrayConfig(rows=8, cols=8, dataflow="os", pe=pe, out="float32")
    shapes, modes = _switched([(9, 11, 10), (12, 17, 3)])
    check_mode_switching(run_array_tb(cfg, shapes, modes=modes, nar=True, seed=9, sim=sim),
                         cfg, modes)


@pytest.mark.rtl
@pytest.mark.slow
def test_separate_macs_small_accumulators(sim: str) -> None:
    """``max_k`` = 8 words: the per-format accumulators shrink (exact for K <= 8 words)."""
    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", pe="separate_macs", max_k=8,
                      out="float32")
    assert cfg.separate_seg_bits == {"fp4x4": 14, "p4x4": 23, "p8x2": 30, "p16x1": 117}
    shapes = [(5, 8, 6), (4, 32, 3), (3, 16, 5), (4, 29, 2)]  # 8 words each (p4x4: 8)
    modes = ["p16x1", "fp4x4", "p8x2", "p4x4"]
    run = run_array_tb(cfg, shapes, modes=modes, nar=True, seed=2, sim=sim)
    check_gemm_run(run, cfg, len(shapes))


@pytest.mark.rtl
@pytest.mark.slow
def test_shared_quire_ws_2x2(sim: str) -> None:
    """WS: the same cell hooks as multiformat work with the WS rounding edge
    (``hw/array/ws_round_edge.py``), every mode in one run."""
    cfg = ArrayConfig(rows=2, cols=2, dataflow="ws", pe="shared_quire", out="float32",
                      acc_depth=8)
    shapes = [(5, 7, 3), (3, 9, 5), (4, 6, 2), (2, 3, 3)]
    run = run_array_tb(cfg, shapes, modes=list(MODES), nar=True, seed=4, sim=sim)
    assert run.passed and len(run.gemms) == len(shapes), run.failures
    for g in run.gemms:  # a tile's earlier K-folds have no output rows (-1)
        kw = -(-g.k // g.lanes)
        sched = cfg.spec.schedule(g.m, kw, g.n)
        assert [f["stream_start"] for f in g.folds] == [s.stream_start for s in sched]
        assert all(f["last_output"] in (-1, s.last_output)
                   for f, s in zip(g.folds, sched, strict=True))
        assert g.mismatches == 0 and g.gemm_cycles == g.spec_cycles


# ---------------------------------------------------------------- pure Python


def test_separate_macs_reference_is_the_pe_model() -> None:
    """The vectorised array reference equals models.pe.separate_macs_mac on packed words, and
    (one mode, < 2**15 words) multiformat_mac, which is shared_quire's function."""
    from mixforge.hw.array.reference import (
        multiformat_outputs,
        random_multiformat,
        reference_outputs,
    )
    from mixforge.hw.array.tiling import pack_lane_words
    from mixforge.models.pe import multiformat_mac, separate_macs_mac

    rng = np.random.default_rng(0)
    for out in ("posit16_es1", "float16", "float32"):
        sm = ArrayConfig(dataflow="os", pe="separate_macs", out=out)
        sq = ArrayConfig(dataflow="os", pe="shared_quire", out=out)
        for mode in MODES:
            a = random_multiformat(rng, mode, (3, 9), special=0.05)
            w = random_multiformat(rng, mode, (9, 4), special=0.05)
            ref = reference_outputs(sm, a, w, mode=mode)[0]
            assert (reference_outputs(sq, a, w, mode=mode)[0]
                    == multiformat_outputs(sq, a, w, mode)[0]).all()
            aw, ww = pack_lane_words(a, mode, 1), pack_lane_words(w, mode, 0)
            for i in range(3):
                for j in range(4):
                    assert ref[i, j] == separate_macs_mac(mode, aw[i], ww[:, j], out=out)
                    assert ref[i, j] == multiformat_mac(mode, aw[i], ww[:, j], out=out)


def test_separate_macs_reference_wraps_as_the_model() -> None:
    """Beyond 2**15 words the FP4 MAC's 26-bit accumulator wraps (the model's semantics); the
    reference wraps the same way, and differs there from the 128-bit quire."""
    from mixforge.hw.array.reference import multiformat_outputs, separate_macs_outputs
    from mixforge.models.pe import separate_macs_mac

    k = 4 * 60_000  # 60,000 words of four FP4 6.0 x 6.0 products: 60000 * 576 >= 2**25
    a = np.full((1, k), 0x7, np.int64)
    w = np.full((k, 1), 0x7, np.int64)
    cfg = ArrayConfig(dataflow="os", pe="separate_macs", out="float32", max_k=1 << 16)
    assert cfg.separate_seg_bits["fp4x4"] == SEPARATE_ACC["fp4x4"][0]
    got = int(separate_macs_outputs(cfg, a, w, "fp4x4")[0, 0, 0])
    word = [0x7777] * 60_000
    assert got == separate_macs_mac("fp4x4", word, word, out="float32")
    assert got != int(multiformat_outputs(cfg, a, w, "fp4x4")[0, 0, 0])


def test_widths_and_timing_contract() -> None:
    from mixforge.hw.array.cells import MF_DECODED_BITS, SQ_DECODED_BITS
    from mixforge.hw.array.config import _SEPARATE_TERM_MAX
    from mixforge.models.pe import decode_value, mac_lane_formats

    # the per-format word-term bounds the accumulator widths come from, checked on the models

    for mode in MODES:
        fmt, lanes, lw = mac_lane_formats(mode)
        lsb = SEPARATE_ACC[mode][1]
        mx = max(abs(s) * 2.0 ** e for s, e, nar in (decode_value(fmt, p)
                                                      for p in range(1 << lw)) if not nar)
        assert _SEPARATE_TERM_MAX[mode] == lanes * int(mx * mx * 2.0 ** -lsb), mode
        # 2**15 - 1 words fill SEPARATE_ACC exactly (the model's sizing rule)
        assert ArrayConfig(dataflow="os", pe="separate_macs",
                           max_k=(1 << 15) - 1).separate_seg_bits[mode] == SEPARATE_ACC[mode][0]
    assert SM4.separate_seg_bits == {"fp4x4": 23, "p4x4": 32, "p8x2": 39, "p16x1": 126}
    assert SM4.acc_bits == 23 + 32 + 39 + 126 + 4 + 2  # packed: 4 accumulators, NaR[4], mode
    assert SQ4.acc_bits == 114 + 12 and SQ4.out_bits == 16
    assert SQ_DECODED_BITS > MF_DECODED_BITS  # eleven per-format lanes vs four shared
    for cfg in (SQ4, SM4):
        assert cfg.edge_latency == 2 and cfg.fold_group(8) is None and cfg.mode_words
        assert [n for n, _, _ in cfg.x_fields()] == ["a", "b", "mode", "last"]
        assert cfg.spec == ArrayConfig(dataflow="os", pe="multiformat").spec
    assert SM4.name == "array_os_4x4_separate_macs_p16"
    assert SQ4.name == "array_os_4x4_shared_quire_p16"


@pytest.mark.parametrize("kw,msg", [
    ({"pe": "separate_macs", "acc_depth": 0}, "acc_depth: must be an integer in 1..65536, not 0"),
    ({"pe": "shared_quire", "dataflow": "os", "out": "bfloat16"},
     "out: must be 'posit16_es1', 'float16' or 'float32', not 'bfloat16'"),
    ({"pe": "separate_macs", "dataflow": "os", "out": "posit8_es0"},
     "out: must be 'posit16_es1', 'float16' or 'float32', not 'posit8_es0'"),
    ({"pe": "shared_quire", "dataflow": "os", "dequant": True},
     "dequant: needs pe 'shift_add', not 'shared_quire'"),
    ({"pe": "separate_macs", "dataflow": "os", "dequant": True},
     "dequant: needs pe 'shift_add', not 'separate_macs'"),
    ({"pe": "separate_macs", "dataflow": "os", "act": "fp16"},
     "act: 'fp16' needs pe 'shift_add', not 'separate_macs'"),
    ({"pe": "separate_macs", "dataflow": "os", "max_k": 0},
     "max_k: must be an integer in 1..1048576, not 0"),
    ({"pe": "separate_mac", "dataflow": "os"},
     "pe: must be 'shift_add', .*'shared_quire' or 'separate_macs', not 'separate_mac'"),
])
def test_bad_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["os_4x4_shared_quire.yaml", "os_4x4_separate_macs.yaml"])
def test_examples_load(name: str) -> None:
    from mixforge.hw.array.config import load_array_file

    f = load_array_file(EXAMPLES / name)
    assert f.array == (SQ4 if "shared" in name else SM4)
    assert f.verify.modes == tuple(MODES)
    assert any(k % MODE_LANES["fp4x4"][1] for _, k, _ in f.verify.shapes)


@pytest.mark.parametrize("edit,field", [
    (("max_k: 4096", "max_k: -1"), "array.max_k: must be an integer in 1..1048576, not -1"),
    (("out: posit16_es1", "out: bfloat16"), "array.out: must be one of"),
    (("max_k: 4096", "max_k: 0"), "array.max_k: must be an integer in 1..1048576, not 0"),
    (("pe: separate_macs", "pe: separate_macs\n  dequant: true"),
     "array.dequant: needs pe 'shift_add', not 'separate_macs'"),
])
def test_cli_bad_example_exits_2(tmp_path, capsys, edit: tuple[str, str], field: str) -> None:
    check_bad_example_exits_2(tmp_path, capsys, EXAMPLES / "os_4x4_separate_macs.yaml", edit,
                              field)


@pytest.mark.rtl
@pytest.mark.parametrize("name", [pytest.param("os_4x4_shared_quire.yaml", marks=pytest.mark.slow),
                                  "os_4x4_separate_macs.yaml"])
def test_cli_verify_example_json(tmp_path, capsys, name: str) -> None:
    """``mixforge verify array`` on the examples (same builds as the 4x4 tests above)."""
    from mixforge.cli import main

    out = tmp_path / "c.json"
    assert main(["verify", "array", "--config", str(EXAMPLES / name), "--gemm", "9,13,5",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    # one GEMM in the first mode: fp4x4 (L = 4), K = 13 streams as 4 words
    assert (rec["mismatches"], rec["outputs"], rec["mode"], rec["lanes"]) == (0, 45, "fp4x4", 4)
    assert rec["gemm_cycles"] == SM4.spec.gemm_cycles(9, 4, 5)
    assert "PASS" in capsys.readouterr().out
