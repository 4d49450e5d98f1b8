"""Worst-case-magnitude GEMMs on every array kind: the largest operands for the longest
reduction the config allows (``max_k``), products of one sign and alternating
(``hw/verify/worst_case.py``), bit-exact against the reference, so an accumulator sized below
the config's worst case cannot pass. The default run uses output-stationary arrays the other
default tests build already (the same Verilog: one shared build); the rest run under
``-m slow``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.hw.array.config import load_array_file
from mixforge.hw.verify.worst_case import array_worst_operands
from mixforge.models.pe import MODES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "array"
#: Output-stationary examples the default tests build anyway (one fold streams all K products).
#: The weight-stationary ones (K / rows folds: ~1,000 folds at K = 4,096, a minute of cocotb
#: each) and os_8x8_posit8 (a build of its own) run under -m slow.
DEFAULT = ["os_4x4_w4a8_dequant", "os_4x4_multiformat", "os_4x4_separate_macs",
           "os_4x4_w4a16_dequant"]
SLOW = sorted({p.stem for p in EXAMPLES.glob("*.yaml")} - set(DEFAULT))


def _run(name: str, sim: str) -> None:
    cfg = load_array_file(EXAMPLES / f"{name}.yaml").array
    k = cfg.max_k
    modes = list(MODES) if cfg.mode_words else None
    shapes = [(cfg.rows, k, cfg.cols)] * (len(modes) if modes else 1)
    run = run_array_tb(cfg, shapes, worst=True, sim=sim, modes=modes)
    assert run.passed, run.failures
    assert [g.k for g in run.gemms] == [k] * len(shapes) and all(
        g.mismatches == 0 for g in run.gemms)


@pytest.mark.rtl
@pytest.mark.parametrize("name", DEFAULT)
def test_worst_case_gemm(name: str, sim: str) -> None:
    _run(name, sim)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_worst_case_gemm_more(name: str, sim: str) -> None:
    _run(name, sim)


@pytest.mark.parametrize("cfg,mode", [
    (ArrayConfig(dataflow="os"), None), (ArrayConfig(dataflow="os", a_bits=6, w_bits=3), None),
    (ArrayConfig(dataflow="os", pe="posit8"), None),
    (ArrayConfig(dataflow="os", pe="fp16_mac", group=8), None),
    (ArrayConfig(dataflow="os", act="fp16", dequant=True, group=8), None),
    (ArrayConfig(dataflow="os", pe="multiformat"), "p16x1"),
    (ArrayConfig(dataflow="os", pe="multiformat"), "fp4x4")], ids=str)
def test_worst_operands_are_the_largest_magnitudes(cfg: ArrayConfig, mode: str | None) -> None:
    """Activations all at the most negative value; weight columns: most negative, most
    positive, alternating."""
    from mixforge.hw.array.reference import decode_operands

    a, w = array_worst_operands(cfg, mode, 2, 6, 4)
    assert a.shape == (2, 6) and w.shape == (6, 4) and len(np.unique(a)) == 1
    assert (w[:, 0] == w[:, 3]).all() and len(np.unique(w[:, 2])) == 2
    assert set(w[:, 2]) == {int(w[0, 0]), int(w[0, 1])}
    if cfg.pe == "shift_add" and cfg.act == "int":
        av, wv, _, _ = decode_operands(cfg, a, w)
        assert int(av[0, 0]) == -(1 << (cfg.a_bits - 1))
        assert sorted({int(wv[0, 0]), int(wv[0, 1])}) == [-(1 << (cfg.w_bits - 1)),
                                                          (1 << (cfg.w_bits - 1)) - 1]
    if cfg.pe == "posit8":  # -maxpos activations, +-maxpos weights (value * 2**6)
        av, wv, _, _ = decode_operands(cfg, a, w)
        assert int(av[0, 0]) == -64 * 64 and {int(wv[0, 0]), int(wv[0, 1])} == {-4096, 4096}
