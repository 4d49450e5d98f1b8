"""Weight-stationary PEArray with MixPE group dequantization at its bottom edge (``dequant: true``,
``dataflow: ws``; ``hw/array/ws_edge.py``).

Every output is checked pattern for pattern against ``models.pe.shift_add_pe`` (through the
vectorised ``reference.dequant_outputs``, itself cross-checked against the scalar model here),
with random group scales / zero points (some Inf/NaN), shapes that are not multiples of R, C,
the group or ``acc_depth``, and the measured cycles of every fold and GEMM equal ``ArraySpec``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from array_checks import check_gemm_run  # sibling helper module

from mixforge.errors import ConfigError
from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.hw.array.config import load_array_file
from mixforge.hw.specs import ArraySpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "array"
EXAMPLE = EXAMPLES / "ws_4x4_w4a8_dequant.yaml"

# M not a multiple of acc_depth (chunk tails) nor of R, K not of R / G (group tails, padded
# K-folds), N not of C, single-element GEMMs, exact fits.
SHAPES_4 = [(5, 7, 6), (13, 17, 5), (1, 1, 1), (8, 16, 4), (9, 20, 9), (2, 3, 2)]

CONFIGS = {
    # the example's array (shared Verilator build): G = 2R, acc_depth 8
    "ws4_g8_m8": (load_array_file(EXAMPLE).array, SHAPES_4),
    # double buffer, G = 5 not a multiple of R (each group: one full and one 1-row K-fold),
    # float16 out, w3a6, acc_depth 4
    "ws4_db_g5_m4_f16_w3a6": (ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True,
                                          dequant=True, group=5, acc_depth=4, out="float16",
                                          w_bits=3, a_bits=6),
                              [(5, 7, 6), (11, 12, 3), (1, 5, 1), (4, 4, 4)]),
    # 1 x 1 double-buffered, acc_depth 1: a fold every cycle on the same address (read-modify-
    # write hazards of both memories), groups of 3 and tails of 1 and 2 closing back to back
    "ws1_db_g3_m1": (ArrayConfig(rows=1, cols=1, dataflow="ws", double_buffer=True,
                                 dequant=True, group=3, acc_depth=1),
                     [(3, 4, 2), (2, 5, 1), (1, 1, 1)]),
    # G < R: every K-fold closes a group and is zero-padded; non-square 3 x 2
    "ws3x2_g2_m5": (ArrayConfig(rows=3, cols=2, dataflow="ws", dequant=True, group=2,
                                acc_depth=5), [(7, 5, 3), (5, 2, 2)]),
}


@pytest.mark.rtl
@pytest.mark.parametrize("key", list(CONFIGS))
def test_ws_dequant_bit_exact_and_timed(key: str, sim: str) -> None:
    cfg, shapes = CONFIGS[key]
    run = run_array_tb(cfg, shapes, seed=5, sim=sim, special=0.1)
    assert len(run.gemms) == len(shapes)
    check_gemm_run(run, cfg)


@pytest.mark.rtl
def test_ws_dequant_stalls_and_idle_cycles(sim: str) -> None:
    """Bubbles on both input streams (and idle gaps between GEMMs): still bit-exact, cycles only
    grow, and the edge state carries over correctly from GEMM to GEMM."""
    for key in ("ws4_db_g5_m4_f16_w3a6", "ws1_db_g3_m1"):
        cfg, shapes = CONFIGS[key]
        run = run_array_tb(cfg, shapes, stall=0.35, seed=13, sim=sim, special=0.05)
        assert run.passed, run.failures
        assert all(g.mismatches == 0 and g.gemm_cycles >= g.spec_cycles for g in run.gemms)


@pytest.mark.rtl
def test_verify_example_cli_json(tmp_path: Path) -> None:
    from mixforge.cli import main

    out = tmp_path / "cycles.json"
    assert main(["verify", "array", "--config", str(EXAMPLE), "--gemm", "13,20,5",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert (rec["mismatches"], rec["outputs"], rec["group_size"]) == (0, 13 * 5, 8)
    spec = ArraySpec(rows=4, cols=4, dataflow="ws", dequant_latency=6, acc_depth=8)
    # 2 M-chunks (8 + 5 rows) x 2 N-tiles x 5 K-folds, each 2R + C + Mc - 2 cycles, + D
    assert rec["gemm_cycles"] == spec.gemm_cycles(13, 20, 5, 8) == 10 * 18 + 10 * 15 - 1 + 6


@pytest.mark.rtl
@pytest.mark.parametrize("db", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_ws8_dequant(db: bool, sim: str) -> None:
    """8 x 8, G = 12 (a full and a half K-fold per group), acc_depth 16 (M = 20: two chunks);
    double-buffered in the default run, single-bank under ``-m slow``."""
    cfg = ArrayConfig(rows=8, cols=8, dataflow="ws", double_buffer=db, dequant=True,
                      group=12, acc_depth=16)
    run = run_array_tb(cfg, [(5, 21, 6), (20, 30, 17), (16, 24, 8), (1, 1, 1)], seed=3,
                       sim=sim, special=0.05)
    check_gemm_run(run, cfg)


# ---------------------------------------------------------------------------- no simulator
@pytest.mark.parametrize("kw,msg", [
    ({"dequant": True, "acc_depth": 0}, "acc_depth: must be an integer in 1..65536, not 0"),
    ({"acc_depth": True}, "acc_depth: must be an integer in 1..65536, not True"),
    ({"dequant": True, "pe": "posit8"}, "dequant: needs pe 'shift_add', not 'posit8'"),
    ({"dequant": True, "out": "bfloat16"},
     "out: must be 'float32' or 'float16', not 'bfloat16'"),
])
def test_bad_ws_dequant_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(dataflow="ws", **kw)  # type: ignore[arg-type]


def test_bad_spec_acc_depth() -> None:
    with pytest.raises(ConfigError, match="acc_depth: needs the 'ws' dataflow, not 'os'"):
        ArraySpec(rows=4, cols=4, dataflow="os", acc_depth=8)
    with pytest.raises(ConfigError, match="acc_depth: must be a positive integer, not 0"):
        ArraySpec(rows=4, cols=4, acc_depth=0)


def test_group_size_is_the_hardware_group() -> None:
    cfg = CONFIGS["ws4_g8_m8"][0]
    assert cfg.fold_group(None) == 8
    with pytest.raises(ConfigError, match=r"group_size: must equal array.group \(8\)"):
        cfg.fold_group(4)


def test_spec_m_chunks_and_edge_latency() -> None:
    from mixforge.hw.array.ws_edge import WS_EDGE_LATENCY

    cfg = CONFIGS["ws4_db_g5_m4_f16_w3a6"][0]
    spec = cfg.spec
    assert spec.acc_depth == 4 and spec.dequant_latency == WS_EDGE_LATENCY == 6
    # M = 11 -> chunks 4, 4, 3; K = 12, G = 5 -> groups 5, 5, 2 -> 2 + 2 + 1 K-folds; 1 N-tile
    assert spec.fold_streams(11, 12, 3, 5) == [4] * 5 + [4] * 5 + [3] * 5
    # a non-dequant WS array streams the whole M per fold
    assert ArrayConfig(dataflow="ws").spec.acc_depth is None
    # double buffering with a shorter final chunk: gemm_cycles follows the exact recurrence
    for m in (9, 40, 41):
        assert spec.gemm_cycles(m, 37, 9, 5) == spec.schedule(m, 37, 9, 5)[-1].last_output
    rng = np.random.default_rng(4)  # the period-skipping recurrence == the exact schedule
    for _ in range(200):
        r, c, d, m, k, n, g = (int(v) for v in rng.integers(1, [9, 9, 30, 150, 80, 30, 20]))
        sp = ArraySpec(rows=r, cols=c, double_buffer=True, acc_depth=d, dequant_latency=6)
        assert sp.gemm_cycles(m, k, n, g) == sp.schedule(m, k, n, g)[-1].last_output
    # the same GEMM without the edge: identical occupancy, results D cycles later
    plain = ArraySpec(rows=4, cols=4, dataflow="ws", double_buffer=True, acc_depth=4)
    assert spec.gemm_cycles(11, 12, 3, 5) == plain.gemm_cycles(11, 12, 3, 5) + 6


def test_reference_matches_scalar_model() -> None:
    """``dequant_outputs`` (vectorised) == ``models.pe.shift_add_pe`` (scalar), element for
    element: full matrices via ``float_outputs`` and spot checks called directly."""
    from mixforge.hw.array.reference import dequant_outputs, float_outputs, random_quant
    from mixforge.models.pe import shift_add_pe

    rng = np.random.default_rng(2)
    for cfg, (m, k, n) in [(CONFIGS["ws4_g8_m8"][0], (6, 37, 5)),
                           (CONFIGS["ws4_db_g5_m4_f16_w3a6"][0], (5, 23, 4)),
                           (CONFIGS["ws1_db_g3_m1"][0], (3, 7, 2)),
                           (ArrayConfig(dequant=True, group=128, w_bits=8), (4, 300, 3))]:
        a = rng.integers(0, 1 << cfg.a_bits, (m, k))
        w = rng.integers(0, 1 << cfg.w_bits, (k, n))
        q = random_quant(cfg, rng, k, n, special=0.1)
        fast = dequant_outputs(cfg, a, w, q)
        assert fast.shape == (1, m, n)
        assert np.array_equal(fast, float_outputs(cfg, a, w, q))
        gi = np.arange(k) // cfg.group
        a8 = np.where(a >= 1 << (cfg.a_bits - 1), a - (1 << cfg.a_bits), a) & 0xFF
        for i, j in [(0, 0), (m - 1, n - 1), (m // 2, n // 2)]:
            assert fast[0, i, j] == shift_add_pe(w[:, j], a8[i], q.scale[gi, j], q.zero[gi, j],
                                                 k=cfg.w_bits, act="int8", group=cfg.group,
                                                 out=cfg.out)
    # NaN from a non-finite scale, exact results otherwise
    cfg = CONFIGS["ws4_g8_m8"][0]
    a, w = rng.integers(0, 256, (2, 16)), rng.integers(0, 16, (16, 2))
    q = random_quant(cfg, rng, 16, 2)
    scale = q.scale.copy()
    scale[1, 0] = 0x7C00  # +Inf in group 1 of column 0
    q2 = type(q)(group=8, zero=q.zero, scale=scale)
    out = dequant_outputs(cfg, a, w, q2)
    assert (out[0, :, 0] == 0x7FC00000).all()
    assert np.array_equal(out[0, :, 1], dequant_outputs(cfg, a, w, q)[0, :, 1])


def test_plan_carries_scales_and_tile_end() -> None:
    """The weight beats of each fold carry its group's scales / zero points and ``last`` only
    on the tile's final K-fold; K-folds never straddle a group; M is cut into chunks."""
    from mixforge.hw.array.reference import random_quant
    from mixforge.hw.array.tiling import plan_gemm

    cfg = CONFIGS["ws4_db_g5_m4_f16_w3a6"][0]
    rng = np.random.default_rng(0)
    m, k, n = 11, 12, 6
    a, w = rng.integers(0, 64, (m, k)), rng.integers(0, 8, (k, n))
    q = random_quant(cfg, rng, k, n)
    folds = plan_gemm(cfg, a, w, quant=q)
    assert len(folds) == cfg.spec.folds(m, k, n, 5) == 3 * 2 * 5
    c, wb = cfg.cols, cfg.w_bits
    for fi, f in enumerate(folds):
        kf = fi % 5  # K-fold index within the tile: groups [0, 5), [5, 10), [10, 12)
        gi = (0, 0, 1, 1, 2)[kf]
        word = f.w_beats[-1]
        scales = [(word >> (c * wb + 16 * j)) & 0xFFFF for j in range(c)]
        last = (word >> (c * (wb + 24))) & 1
        nv = min(c, n - f.n0)
        assert scales[:nv] == [int(q.scale[gi, f.n0 + j]) for j in range(nv)]
        assert last == (kf == 4) and bool(f.out_rows) == (kf == 4)
        assert len(f.x_beats) == (4 if fi < 20 else 3)
