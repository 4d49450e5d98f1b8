"""Weight-stationary PEArrays of the rounding-edge cell kinds (``dequant_first``, ``fp16_mac``,
``multiformat``; ``hw/array/ws_round_edge.py``) in Verilator.

Every output is checked pattern for pattern against the same models/ functions the OS arrays
match (``models.pe.dequant_first_pe`` / ``fp16_mac_pe`` / ``multiformat_mac`` per element, via
``hw.array.reference``), with shapes that are not multiples of R, C, the lanes L or
``acc_depth``, specials (Inf/NaN tensor scales, group scales and FP16 activations, posit NaR),
the multiformat mode switched between the GEMMs of one simulation, random stalls, and the
measured cycles of every fold and GEMM equal to ``ArraySpec``.
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
from mixforge.hw.array.config import load_array_file
from mixforge.models.pe import MODES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "array"
MF = load_array_file(EXAMPLES / "ws_4x4_multiformat.yaml").array        # double buffer, m8
DQF = load_array_file(EXAMPLES / "ws_4x4_dequant_first.yaml").array     # group 5, m8
FPM = load_array_file(EXAMPLES / "ws_4x4_fp16mac_w4a16.yaml").array     # group 8, m8
#: 1 x 1, double-buffered, acc_depth 1: a fold every cycle on the same address (read-modify-
#: write hazards), tiles of 1..5 K-folds back to back
DQF1 = ArrayConfig(rows=1, cols=1, dataflow="ws", double_buffer=True, pe="dequant_first",
                   w_bits=3, a_bits=6, group=2, acc_depth=1, out="float16")

# M > acc_depth (chunk tails), K not a multiple of R (padded K-folds) nor of the group, N not
# of C, one-element GEMMs, exact fits
SHAPES = [(5, 7, 6), (13, 17, 5), (1, 1, 1), (8, 16, 4), (9, 6, 9)]


@pytest.mark.rtl
def test_ws_multiformat_every_mode_switched_in_one_run(sim: str) -> None:
    """Every mode, switched from GEMM to GEMM (the weight banks carry it), NaR operands."""
    shapes = [(5, 7, 6), (9, 13, 5), (4, 6, 4), (1, 1, 1), (10, 9, 3), (3, 17, 2)]
    modes = [MODES[i % len(MODES)] for i in range(len(shapes))] + ["p16x1", "fp4x4"]
    shapes += [(2, 5, 5), (6, 11, 4)]
    run = run_array_tb(MF, shapes, modes=modes, nar=True, seed=3, sim=sim)
    check_mode_switching(run, MF, modes)


@pytest.mark.rtl
def test_ws_dequant_first(sim: str) -> None:
    """Per-K-index zero points / scale multipliers (group 5), Inf/NaN tensor scales."""
    run = run_array_tb(DQF, SHAPES, special=0.15, seed=5, sim=sim)
    check_gemm_run(run, DQF, len(SHAPES))


@pytest.mark.rtl
def test_ws_fp16_mac(sim: str) -> None:
    """Inf/NaN group scales and FP16 activations (NaN outputs), one rounding per output."""
    run = run_array_tb(FPM, SHAPES, nar=True, special=0.05, seed=6, sim=sim)
    check_gemm_run(run, FPM, len(SHAPES))


@pytest.mark.rtl
def test_ws_edge_1x1_back_to_back_folds(sim: str) -> None:
    run = run_array_tb(DQF1, [(3, 4, 2), (2, 5, 1), (1, 1, 1), (4, 2, 3)], special=0.1,
                       seed=7, sim=sim)
    check_gemm_run(run, DQF1, 4)


@pytest.mark.rtl
def test_ws_edge_stalls(sim: str) -> None:
    """Bubbles on both input streams and idle gaps between GEMMs: still bit-exact (the edge
    state carries over from GEMM to GEMM and from mode to mode), cycles only grow."""
    for cfg, shapes, kw in [(DQF, SHAPES[:3], {"special": 0.1}),
                            (DQF1, [(3, 4, 2), (2, 5, 1)], {}),
                            (FPM, SHAPES[:3], {"nar": True}),
                            (MF, [(5, 7, 6), (9, 13, 5), (3, 6, 2)],
                             {"modes": ["p8x2", "fp4x4", "p16x1"], "nar": True})]:
        run = run_array_tb(cfg, shapes, stall=0.35, seed=13, sim=sim, **kw)
        assert run.passed, run.failures
        assert all(g.mismatches == 0 and g.gemm_cycles >= g.spec_cycles for g in run.gemms)


@pytest.mark.rtl
def test_measure_gemm_cycles_and_cli_json(tmp_path: Path) -> None:
    """``measure_gemm_cycles`` and ``mixforge verify array --json`` on the example (same
    build as above): measured == ArraySpec."""
    from mixforge.cli import main
    from mixforge.hw.array import measure_gemm_cycles

    meas = measure_gemm_cycles(DQF, 11, 9, 6, seed=2)
    assert meas.mismatches == 0 and meas.gemm_cycles == DQF.spec.gemm_cycles(11, 9, 6)
    out = tmp_path / "c.json"
    assert main(["verify", "array", "--config", str(EXAMPLES / "ws_4x4_dequant_first.yaml"),
                 "--gemm", "13,20,5", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert (rec["mismatches"], rec["outputs"]) == (0, 65)
    assert rec["gemm_cycles"] == rec["spec_cycles"] == DQF.spec.gemm_cycles(13, 20, 5)
    # 2 M-chunks x 2 N-tiles x 5 K-folds
    assert len(rec["folds"]) == 20 and sum(bool(f["rows"]) for f in rec["folds"]) == 4


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("key", ["mf8_f32", "mf4_f16_m3", "fp8_f16_db", "dqf3x2_f16",
                                 "sq4_db"])
def test_ws_edge_bigger(key: str, sim: str) -> None:
    cfg, shapes, kw = {
        "mf8_f32": (ArrayConfig(rows=8, cols=8, dataflow="ws", pe="multiformat",
                                out="float32", acc_depth=5),
                    [(9, 30, 10), (5, 3, 6), (12, 17, 3), (8, 64, 8)], {"nar": True}),
        "mf4_f16_m3": (ArrayConfig(rows=4, cols=4, dataflow="ws", pe="multiformat",
                                   out="float16", acc_depth=3),
                       [(7, 9, 7), (3, 5, 2), (8, 33, 8), (2, 3, 5)], {"nar": True}),
        "fp8_f16_db": (ArrayConfig(rows=8, cols=8, dataflow="ws", double_buffer=True,
                                   pe="fp16_mac", w_bits=3, group=5, acc_depth=6,
                                   out="float16"),
                       [(9, 11, 10), (13, 17, 3), (6, 40, 8)], {"special": 0.05}),
        # non-square, float16 out, w3a6, acc_depth 5
        "dqf3x2_f16": (ArrayConfig(rows=3, cols=2, dataflow="ws", pe="dequant_first",
                                   w_bits=3, a_bits=6, group=4, acc_depth=5, out="float16"),
                       [(7, 10, 3), (11, 2, 2), (5, 9, 5)], {"special": 0.1}),
        # CELLS2's shared-quire cells: the same cell hooks as multiformat, WS unchanged
        "sq4_db": (ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True,
                               pe="shared_quire", out="posit16_es1", acc_depth=4),
                   [(5, 7, 6), (9, 13, 5), (4, 6, 4), (6, 11, 3)], {"nar": True}),
    }[key]
    run = run_array_tb(cfg, shapes, seed=9, sim=sim, **kw)
    check_gemm_run(run, cfg, len(shapes))


# ---------------------------------------------------------------- pure Python


def test_config_widths_fields_and_timing() -> None:
    from mixforge.hw.array.config import EDGE_LATENCY
    from mixforge.hw.array.ws_round_edge import WS_ROUND_EDGE_LATENCY

    assert EDGE_LATENCY["round_ws"] == WS_ROUND_EDGE_LATENCY == 3
    for cfg in (MF, DQF, FPM, DQF1):
        assert cfg.ws_round and cfg.float_out and cfg.edge_latency == 3
        assert cfg.spec.acc_depth == cfg.acc_depth and cfg.fold_group(4) is None
    assert [f[0] for f in MF.w_fields()] == ["data", "mode", "last"]
    assert [f[0] for f in DQF.w_fields()] == ["data", "zero", "sm", "tscale", "last"]
    assert [f[0] for f in FPM.w_fields()] == ["data", "scale", "zero", "last"]
    assert DQF.acc_bits == 32 and MF.acc_bits == 114 + 12 and FPM.acc_bits == 81 + 12
    assert MF.name == "array_ws_db_4x4_multiformat_m8_p16"
    assert DQF.name == "array_ws_4x4_dequant_first_w4a8_m8_f32"
    # the schedule of a plain WS array with M cut into acc_depth chunks, D = 3 later
    plain = ArrayConfig(rows=4, cols=4, dataflow="ws").spec
    assert DQF.spec.fold_streams(13, 17, 5) == [8] * 10 + [5] * 10
    assert DQF.spec.gemm_cycles(5, 7, 6) == plain.gemm_cycles(5, 7, 6) + 3
    # the OS arrays of these kinds are unchanged (no acc_depth, their own edge latency)
    os_mf = ArrayConfig(dataflow="os", pe="multiformat")
    assert os_mf.spec.acc_depth is None and os_mf.edge_latency == 2 and not os_mf.ws_round


@pytest.mark.parametrize("kw,msg", [
    ({"pe": "multiformat", "dequant": True}, "dequant: needs pe 'shift_add', not 'multiformat'"),
    ({"pe": "dequant_first", "acc_depth": 0}, "acc_depth: must be an integer in 1..65536, not 0"),
    ({"pe": "fp16_mac", "acc_depth": 1 << 17},
     "acc_depth: must be an integer in 1..65536, not 131072"),
    ({"pe": "fp16_mac", "out": "posit16_es1"},
     "out: must be 'float32' or 'float16', not 'posit16_es1'"),
    ({"pe": "multiformat", "max_k": 0}, "max_k: must be an integer in 1..1048576, not 0"),
    ({"pe": "dequant_first", "dataflow": "os", "double_buffer": True},
     "double_buffer: needs the 'ws' dataflow, not 'os'"),
])
def test_bad_ws_edge_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(**{"dataflow": "ws", **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("name,edit,field", [
    ("ws_4x4_multiformat.yaml", ("acc_depth: 8", "acc_depth: 0"),
     "array.acc_depth: must be an integer in 1..65536, not 0"),
    ("ws_4x4_dequant_first.yaml", ("a_bits: 8", "a_bits: 8\n  dequant: true"),
     "array.dequant: needs pe 'shift_add', not 'dequant_first'"),
    ("ws_4x4_fp16mac_w4a16.yaml", ("out: float32", "out: posit16_es1"),
     "array.out: must be 'float32' or 'float16', not 'posit16_es1'"),
])
def test_cli_bad_ws_example_exits_2(tmp_path, capsys, name: str, edit: tuple[str, str],
                                    field: str) -> None:
    check_bad_example_exits_2(tmp_path, capsys, EXAMPLES / name, edit, field)


def test_plan_carries_fields_and_tile_end() -> None:
    """Each weight beat carries its own K-index's zero / sm (group 5) and the tensor scale;
    ``last`` only on the tile's final K-fold; M cut into acc_depth chunks; padding is zero."""
    from mixforge.hw.array.reference import random_quant
    from mixforge.hw.array.tiling import plan_gemm

    rng = np.random.default_rng(0)
    m, k, n = 11, 10, 6
    a, w = rng.integers(0, 256, (m, k)), rng.integers(0, 16, (k, n))
    q = random_quant(DQF, rng, k, n)
    folds = plan_gemm(DQF, a, w, quant=q)
    assert len(folds) == DQF.spec.folds(m, k, n) == 2 * 2 * 3
    c, r = DQF.cols, DQF.rows
    offs = {}
    off = 0
    for name, bits, cnt in DQF.w_fields():
        offs[name] = (off, bits)
        off += bits * cnt
    for fi, f in enumerate(folds):
        kf, n0 = fi % 3, (fi // 3) % 2 * c
        assert len(f.w_beats) == r and len(f.x_beats) == (8 if fi < 6 else 3)
        for bi, word in enumerate(f.w_beats):
            kk = kf * r + (r - 1 - bi)  # the first beat is the fold's bottom row R-1
            assert (word >> offs["last"][0]) & 1 == (kf == 2)
            for j in range(c):
                got = {nm: (word >> (o + j * b)) & ((1 << b) - 1) for nm, (o, b) in offs.items()
                       if nm != "last"}
                if kk < k and n0 + j < n:
                    gi = kk // DQF.group
                    assert got == {"data": w[kk, n0 + j], "zero": q.zero[gi, n0 + j],
                                   "sm": q.sm[gi, n0 + j], "tscale": q.tscale[n0 + j]}
                elif kk >= k:
                    assert got["data"] == got["zero"] == got["sm"] == 0
        assert bool(f.out_rows) == (kf == 2)
    # multiformat: the mode on every weight beat, K in words
    mf = plan_gemm(MF, rng.integers(0, 256, (3, 9)), rng.integers(0, 256, (9, 2)), mode="p8x2")
    assert len(mf) == 2 and all((b >> (16 * MF.cols)) & 3 == MODES.index("p8x2")
                                for f in mf for b in f.w_beats)


def test_dequant_first_int32_wrap_in_k_folds() -> None:
    """The int32 accumulator of ``dequant_first_pe`` wraps; the WS edge adds R-term partial
    sums per K-fold, wrapping at 32 bits: the same word, so the same output, whatever the
    fold order (modular addition) -- checked on a sequence whose sum overflows int32."""
    from mixforge.hw.array.reference import float_outputs
    from mixforge.hw.array.tiling import QuantParams
    from mixforge.models.pe import dequant_first_pe

    k = 140_000  # 140000 * 127 * 127 > 2**31
    w = np.full(k, 7)            # int4 7, z = -8, sm = 15 -> sat_int8(225) = 127
    a = np.full(k, 127)
    zero, sm, ts = np.full(k, 0xF8), np.full(k, 15), [0x3C00]
    ref = dequant_first_pe(w, a, sm, zero, ts, k=4, out="float32")
    total = 127 * 127 * k
    assert total >= 1 << 31  # it really wraps
    for r in (4, 7):
        parts = [127 * 127 * len(range(s, min(s + r, k))) for s in range(0, k, r)]
        for order in (parts, parts[::-1]):
            acc = 0
            for p in order:
                acc = (acc + p + (1 << 31)) % (1 << 32) - (1 << 31)
            assert acc == (total + (1 << 31)) % (1 << 32) - (1 << 31)
    q = QuantParams(group=k, zero=zero[None, :1], sm=sm[None, :1], tscale=np.array(ts))
    cfg = ArrayConfig(rows=4, cols=1, dataflow="ws", pe="dequant_first", group=4096)
    assert float_outputs(cfg, a[None, :], w[:, None], q)[0, 0, 0] == ref
    # tscale 1.0: the output is the wrapped int32 sum rounded once to float32
    wrapped = (total + (1 << 31)) % (1 << 32) - (1 << 31)
    assert ref == int(np.array(wrapped, np.float32).view(np.uint32))
