"""Weight-stationary PE arrays of ``pe: separate_macs`` (``SeparateMacsMAC`` cells: one complete
MAC per format, per-format accumulators) in Verilator: each cell adds its word-pair term into
the active mode's segment of the packed partial sum (``PEArray._acc_add``), the WS edge
(``hw/array/ws_round_edge.py``) keeps the packed per-format accumulators (+ NaR flags, mode) per
row and rounds once on the tile's final K-fold with the OS edge's readouts. Bit-exact per
output against ``models.pe.separate_macs_mac``; measured cycles == ArraySpec.

Every mode, switched between the GEMMs of one simulation; shapes not multiples of R, C, L or
``acc_depth``; NaR operands; random stalls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from array_checks import check_mode_switching  # sibling helper module

from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.hw.array.config import load_array_file
from mixforge.models.pe import MODES

#: 2 x 2, acc_depth 3 (M chunk tails), small accumulators (max_k 64 words: fast build)
SM2 = ArrayConfig(rows=2, cols=2, dataflow="ws", pe="separate_macs", out="float32",
                  acc_depth=3, max_k=64)
#: 4 x 4, double-buffered, posit16 out, the default (model-width) accumulators
SM4 = ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True, pe="separate_macs",
                  out="posit16_es1", acc_depth=4)

SHAPES = [(5, 7, 3), (3, 9, 5), (4, 6, 2), (1, 1, 1), (7, 13, 3), (2, 5, 1)]


def test_config_ws_separate_macs() -> None:
    assert SM2.ws_round and SM2.mode_words
    assert SM2.name == "array_ws_2x2_separate_macs_m3_f32"
    assert SM2.acc_bits == sum(SM2.separate_seg_bits.values()) + 6
    assert [f[0] for f in SM2.w_fields()] == ["data", "mode", "last"]


def test_example_is_the_verified_4x4() -> None:
    ex = Path(__file__).resolve().parents[2] / "examples" / "array" / "ws_4x4_separate_macs.yaml"
    f = load_array_file(ex)
    assert f.array == SM4 and f.verify.modes == tuple(MODES)
    assert SM4.separate_seg_bits == {"fp4x4": 23, "p4x4": 32, "p8x2": 39, "p16x1": 126}


@pytest.mark.rtl
def test_ws2_every_mode_switched_in_one_run(sim: str) -> None:
    modes = [MODES[i % len(MODES)] for i in range(len(SHAPES))]
    run = run_array_tb(SM2, SHAPES, modes=modes, nar=True, seed=21, sim=sim)
    check_mode_switching(run, SM2, modes)


@pytest.mark.rtl
def test_ws2_stalls(sim: str) -> None:
    """Bubbles on both input streams: still bit-exact, cycles only grow."""
    modes = ["p8x2", "fp4x4", "p16x1", "p4x4"]
    run = run_array_tb(SM2, SHAPES[:4], modes=modes, nar=True, stall=0.35, seed=23, sim=sim)
    assert run.passed, run.failures
    assert all(g.mismatches == 0 and g.gemm_cycles >= g.spec_cycles for g in run.gemms)


@pytest.mark.rtl
@pytest.mark.slow
def test_ws4_every_mode_switched_in_one_run(sim: str) -> None:
    shapes = [(5, 7, 6), (9, 13, 5), (4, 6, 4), (1, 1, 1), (10, 9, 3), (3, 17, 2)]
    modes = [MODES[i % len(MODES)] for i in range(len(shapes))]
    run = run_array_tb(SM4, shapes, modes=modes, nar=True, seed=25, sim=sim)
    check_mode_switching(run, SM4, modes)
