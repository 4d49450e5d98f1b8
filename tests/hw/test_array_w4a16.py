"""MixPE W4A16 PE arrays: ``ShiftAddPE`` cells on FP16 activations (``pe: shift_add``,
``act: fp16``, ``dequant: true``; OS and WS).

Each FP16 activation is converted once at the array's left edge into the PE's fixed-point form
(``fp16_to_fixed``: 41-bit integer at 2**-24 + Inf/NaN flag), the cells add shift-and-add
products of it, and the edge dequantizes the fixed-point group sums. Every output is checked
pattern for pattern against ``models.pe.shift_add_pe(act="fp16")`` (through the vectorised
``reference.dequant_outputs``, cross-checked here against the scalar model) with FP16
specials (Inf/NaN/subnormal/+-0 activations, Inf/NaN scales), shapes that are not multiples of
R, C, the group or ``acc_depth``, random stalls, and the measured cycles of every fold and
GEMM equal ``ArraySpec``.
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

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "array"
OS_EX = EXAMPLES / "os_4x4_w4a16_dequant.yaml"
WS_EX = EXAMPLES / "ws_4x4_w4a16_dequant.yaml"
OS4 = load_array_file(OS_EX).array   # group 8, float32 out
WS4 = load_array_file(WS_EX).array   # group 8 (2 K-folds per group), acc_depth 8

# K not a multiple of R / G (tails, padded K-folds), M not of R / acc_depth, N not of C,
# single-element GEMMs.
SHAPES_OS = [(5, 7, 6), (4, 17, 4), (1, 1, 1), (9, 20, 5), (3, 8, 2)]
SHAPES_WS = [(5, 7, 6), (13, 17, 5), (1, 1, 1), (9, 20, 9), (2, 3, 2)]


# ------------------------------------------------------------------------------ Verilator
@pytest.mark.rtl
@pytest.mark.parametrize("cfg,shapes", [(OS4, SHAPES_OS), (WS4, SHAPES_WS)], ids=["os", "ws"])
def test_w4a16_bit_exact_and_timed(cfg: ArrayConfig, shapes: list, sim: str) -> None:
    """Finite FP16 activations of every exponent (subnormals, +-0), 10 % Inf/NaN scales."""
    run = run_array_tb(cfg, shapes, seed=3, sim=sim, special=0.1)
    assert len(run.gemms) == len(shapes)
    check_gemm_run(run, cfg)


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", [OS4, WS4], ids=["os", "ws"])
def test_w4a16_inf_nan_activations_and_stalls(cfg: ArrayConfig, sim: str) -> None:
    """2 % Inf/NaN activations (their rows NaN, over every group and K-fold of the tile) and
    Inf/NaN scales, with bubbles on the input streams: bit-exact; cycles only grow. Then the
    same GEMMs without stalls: cycles == ArraySpec again (the edge state carried over)."""
    shapes = [(7, 9, 5), (3, 17, 6), (10, 24, 3)]
    run = run_array_tb(cfg, shapes, stall=0.3, seed=11, sim=sim, nar=True, special=0.05)
    assert run.passed, run.failures
    assert all(g.mismatches == 0 and g.gemm_cycles >= g.spec_cycles for g in run.gemms)
    check_gemm_run(run_array_tb(cfg, shapes, seed=12, sim=sim, nar=True, special=0.05), cfg)


@pytest.mark.rtl
@pytest.mark.parametrize("example,gemm", [(OS_EX, (9, 20, 5)), (WS_EX, (13, 20, 5))],
                         ids=["os", "ws"])
def test_cli_verify_examples(example: Path, gemm: tuple[int, int, int],
                             tmp_path: Path) -> None:
    """``mixforge verify array --gemm --json`` on the examples (same builds as above)."""
    from mixforge.cli import main

    cfg = load_array_file(example).array
    out = tmp_path / "c.json"
    assert main(["verify", "array", "--config", str(example), "--gemm",
                 ",".join(map(str, gemm)), "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    m, k, n = gemm
    assert (rec["mismatches"], rec["outputs"], rec["group_size"]) == (0, m * n, 8)
    assert rec["gemm_cycles"] == cfg.spec.gemm_cycles(m, k, n, 8)


@pytest.mark.slow  # elaborating the array again (uncached) takes ~30 s
@pytest.mark.parametrize("example", [OS_EX, WS_EX], ids=["os", "ws"])
def test_cli_gen_examples(example: Path, tmp_path: Path) -> None:
    from mixforge.cli import main

    cfg = load_array_file(example).array
    assert main(["gen", "array", "--config", str(example), "--out", str(tmp_path)]) == 0
    (v,) = tmp_path.glob("*.v")
    meta = json.loads(v.with_suffix(".json").read_text())
    assert meta["params"]["act"] == "fp16" and f"module {cfg.name}" in v.read_text()


SLOW = {
    # 8 x 8, float16 out, w3, G = 5 (not a multiple of anything), max K 4096
    "os8_g5_f16_w3": (ArrayConfig(rows=8, cols=8, dataflow="os", pe="shift_add", act="fp16",
                                  dequant=True, group=5, out="float16", w_bits=3),
                      [(5, 21, 6), (12, 9, 17), (1, 1, 1)]),
    # 8 x 8 double-buffered WS, w8, G = 12 (a full and a half K-fold per group), two M-chunks
    "ws8_db_g12_m16_w8": (ArrayConfig(rows=8, cols=8, dataflow="ws", double_buffer=True,
                                      act="fp16", dequant=True, group=12, acc_depth=16,
                                      w_bits=8),
                          [(5, 21, 6), (20, 30, 17), (1, 1, 1)]),
    # 1 x 1 double-buffered WS, acc_depth 1: a fold every cycle on one address (read-modify-
    # write hazards of every edge memory, the NaN-flag memory included), groups of 3
    "ws1_db_g3_m1": (ArrayConfig(rows=1, cols=1, dataflow="ws", double_buffer=True,
                                 act="fp16", dequant=True, group=3, acc_depth=1),
                     [(3, 4, 2), (2, 5, 1), (1, 1, 1)]),
    # G < R: every K-fold closes a group and is zero-padded; non-square 3 x 2, float16 out
    "ws3x2_g2_m5_f16": (ArrayConfig(rows=3, cols=2, dataflow="ws", act="fp16", dequant=True,
                                    group=2, acc_depth=5, out="float16"),
                        [(7, 5, 3), (5, 2, 2)]),
}


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("key", list(SLOW))
def test_w4a16_more_arrays(key: str, sim: str) -> None:
    cfg, shapes = SLOW[key]
    check_gemm_run(run_array_tb(cfg, shapes, seed=5, sim=sim, special=0.1), cfg)
    run = run_array_tb(cfg, shapes, seed=6, sim=sim, nar=True, special=0.05, stall=0.3)
    assert run.passed, run.failures


# ------------------------------------------------------------------------------ netlist
def _has_multiplier(cfg: ArrayConfig) -> bool:
    """Whether the array's generated Verilog (the cached file the simulator builds from)
    holds a multiplication: Yosys writes each ``$mul`` cell as ``assign y = a * b;``."""
    import re

    from mixforge.hw.array.measure import generate_array

    text = generate_array(cfg).read_text()
    assert re.search(r"^\s*assign .*\S [+-] \S", text, re.M), "no adders found"
    return re.search(r"^\s*assign .*\S \* \S", text, re.M) is not None


@pytest.mark.parametrize("cfg", [
    OS4, WS4,
    pytest.param(ArrayConfig(rows=4, cols=4, dataflow="os", dequant=True, group=8),
                 marks=pytest.mark.slow),
    pytest.param(ArrayConfig(rows=4, cols=4, dataflow="ws", dequant=True, group=8,
                             acc_depth=8), marks=pytest.mark.slow),
    pytest.param(ArrayConfig(rows=4, cols=4, dataflow="ws"), marks=pytest.mark.slow),
], ids=lambda c: c.name)
def test_shift_add_arrays_have_no_multiplier(cfg: ArrayConfig) -> None:
    """Shift-and-add arrays (W4A16 in the default run, the integer ones under ``-m slow``)
    have no multiplier: products, zero points and scales are shifted adds."""
    assert not _has_multiplier(cfg)


@pytest.mark.slow
def test_multiplier_check_sees_the_baselines_multipliers() -> None:
    for base in ("dequant_first", "fp16_mac"):
        assert _has_multiplier(ArrayConfig(rows=2, cols=2, dataflow="os", pe=base))


# ------------------------------------------------------------------------------ no simulator
@pytest.mark.parametrize("kw,msg", [
    ({"act": "int8"}, "act: must be 'int' or 'fp16', not 'int8'"),
    ({"act": "fp16", "dequant": True, "pe": "posit8"},
     "dequant: needs pe 'shift_add', not 'posit8'"),
    ({"act": "fp16", "pe": "posit8"}, "act: 'fp16' needs pe 'shift_add', not 'posit8'"),
    ({"act": "fp16", "pe": "fp16_mac"}, "act: 'fp16' needs pe 'shift_add', not 'fp16_mac'"),
    ({"act": "fp16", "pe": "multiformat"},
     "act: 'fp16' needs pe 'shift_add', not 'multiformat'"),
    ({"act": "fp16"}, "act: 'fp16' needs dequant: true"),
    ({"act": "fp16", "dataflow": "ws"}, "act: 'fp16' needs dequant: true"),
    ({"act": "fp16", "dequant": True, "out": "posit16_es1"},
     "out: must be 'float32' or 'float16', not 'posit16_es1'"),
])
def test_bad_act_config(kw: dict[str, object], msg: str) -> None:
    kw = {"dataflow": "os", **kw}
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(**kw)  # type: ignore[arg-type]


_NO_DQ = ("  dequant: true ", "  dequant: false ")


@pytest.mark.parametrize("edits,msg", [
    ([_NO_DQ], "array.act: 'fp16' needs dequant: true"),
    ([("  act: fp16 ", "  act: fp8  ")], "array.act: must be one of 'int', 'fp16', not 'fp8'"),
    ([("  act: fp16 ", "  act: [fp16]")], "array.act: must be one of 'int', 'fp16'"),
    ([_NO_DQ, ("  pe: shift_add", "  pe: fp16_mac")],
     "array.act: 'fp16' needs pe 'shift_add', not 'fp16_mac'"),
])
def test_bad_act_yaml_names_file_and_field(tmp_path: Path, edits: list[tuple[str, str]],
                                           msg: str) -> None:
    """Bad ``act`` settings in a YAML file: one-line ConfigErrors naming the file and field."""
    text = OS_EX.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_array_file(bad)
    got = str(exc.value)
    assert got.startswith(f"{bad}: ") and msg in got and "\n" not in got, got


def test_widths_name_and_timing() -> None:
    """FP16 activations enter as 16-bit patterns and live as 41-bit fixed point in the cells;
    the sums are ``ShiftAddArith(act="fp16")``'s; the timing equals the W4A8 array's."""
    from mixforge.models.pe import shift_add_arith

    ar = shift_add_arith(k=4, act="fp16", group=8)
    assert (OS4.act_bits, OS4.act_fixed_bits, OS4.prod_bits) == (16, 41, ar.prod)
    assert OS4.acc_bits == ar.group_sum and OS4.float_out
    assert WS4.acc_bits == ar.prod + 2  # a fold sums R = 4 products
    assert OS4.name == "array_os_4x4_shift_add_w4a16_dq8_f32"
    assert WS4.name == "array_ws_4x4_shift_add_w4a16_dq8_m8_f32"
    assert dict((n, (b, c)) for n, b, c in OS4.x_fields())["a"] == (16, 4)
    assert ArrayConfig().params() == {k: v for k, v in ArrayConfig().params().items()
                                      if k != "act"}  # int arrays: records unchanged
    assert OS4.params()["act"] == "fp16" and ArrayConfig(**OS4.params()) == OS4
    for cfg in (OS4, WS4):
        from dataclasses import replace

        assert cfg.spec == replace(cfg, act="int").spec


def _fp16_acts(rng: np.random.Generator, shape: tuple[int, int], special: float) -> np.ndarray:
    from mixforge.hw.array.reference import _fp16_patterns

    a = _fp16_patterns(rng, shape, special)
    return np.where(rng.random(shape) < 0.1, a & 0x8000, a)  # +-0


@pytest.mark.parametrize("cfg,shape", [
    (OS4, (6, 37, 5)),
    (WS4, (5, 23, 4)),
    (ArrayConfig(dataflow="os", act="fp16", dequant=True, group=5, out="float16", w_bits=3),
     (4, 13, 3)),
    (ArrayConfig(dataflow="os", act="fp16", dequant=True, group=128, w_bits=8), (3, 300, 2)),
    (ArrayConfig(dataflow="ws", act="fp16", dequant=True, group=4096, w_bits=8), (2, 4096, 2)),
], ids=lambda x: getattr(x, "name", str(x)))
def test_reference_matches_scalar_model(cfg: ArrayConfig, shape: tuple[int, int, int]) -> None:
    """``reference_outputs`` (vectorised) == ``models.pe.shift_add_pe(act="fp16")`` (scalar)
    on every element, with Inf/NaN activations and scales mixed in."""
    from mixforge.hw.array.reference import random_quant, reference_outputs
    from mixforge.models.pe import shift_add_pe

    rng = np.random.default_rng(sum(shape))
    m, k, n = shape
    a = _fp16_acts(rng, (m, k), 0.3 / k)
    w = rng.integers(0, 1 << cfg.w_bits, (k, n))
    q = random_quant(cfg, rng, k, n, special=0.1)
    ref = reference_outputs(cfg, a, w, quant=q)
    assert ref.shape == (1, m, n)
    gi = np.arange(k) // cfg.group
    for i in range(m):
        for j in range(n):
            assert ref[0, i, j] == shift_add_pe(w[:, j], a[i], q.scale[gi, j], q.zero[gi, j],
                                                k=cfg.w_bits, act="fp16", group=cfg.group,
                                                out=cfg.out), (i, j)


def test_reference_specials() -> None:
    """Inf / NaN activations make their whole row NaN, an Inf scale its column; +-0 and
    subnormal activations are exact values (smallest subnormal 2**-24)."""
    from mixforge.hw.array.reference import dequant_outputs
    from mixforge.hw.array.tiling import QuantParams

    cfg = OS4
    one, nan32 = 0x3C00, 0x7FC00000
    k = 12  # groups [0, 8), [8, 12)
    a = np.zeros((5, k), np.int64)
    a[0, :] = 0x0001                      # 12 x 2**-24 (subnormals)
    a[1, :] = 0x8000                      # -0
    a[2, 3] = 0x7C00                      # +Inf in group 0
    a[3, 10] = 0x7E01                     # NaN in group 1
    a[4, :] = 0x83FF                      # largest negative subnormal, -1023 * 2**-24
    w = np.full((k, 2), 1)
    scale = np.full((2, 2), one)
    q = QuantParams(group=8, zero=np.zeros((2, 2), np.int64), scale=scale)
    out = dequant_outputs(cfg, a, w, q)[0]
    f32 = np.array(out, np.uint32).view(np.float32)
    assert f32[0, 0] == np.float32(12 * 2.0 ** -24) and out[1, 0] == 0
    assert (out[2] == nan32).all() and (out[3] == nan32).all()
    assert f32[4, 1] == np.float32(-12 * 1023 * 2.0 ** -24)
    scale2 = scale.copy()
    scale2[1, 1] = 0xFC00                 # -Inf scale in group 1 of column 1
    out2 = dequant_outputs(cfg, a, w, QuantParams(group=8, zero=q.zero, scale=scale2))[0]
    assert (out2[:, 1] == nan32).all() and np.array_equal(out2[:, 0], out[:, 0])


def test_plan_packs_fp16_activation_patterns() -> None:
    """The tiling sends FP16 patterns as they are: 16 bits per activation in OS ``x`` and WS
    ``a`` beats (the array converts them itself)."""
    from mixforge.hw.array.reference import random_quant
    from mixforge.hw.array.tiling import plan_gemm

    rng = np.random.default_rng(1)
    m, k, n = 5, 9, 3
    a = _fp16_acts(rng, (m, k), 0.05)
    w = rng.integers(0, 16, (k, n))
    q = random_quant(OS4, rng, k, n)
    folds = plan_gemm(OS4, a, w, quant=q)
    assert len(folds) == 2 * 1 * 2  # 2 M-tiles x 1 N-tile x 2 groups
    beat = folds[0].x_beats[3]       # M rows 0..3, K index 3
    assert [(beat >> (16 * i)) & 0xFFFF for i in range(4)] == [int(a[i, 3]) for i in range(4)]
    wsf = plan_gemm(WS4, a, w, quant=q)
    row = wsf[0].x_beats[2]          # M row 2, K indices 0..3
    assert [(row >> (16 * i)) & 0xFFFF for i in range(4)] == [int(a[2, i]) for i in range(4)]
    assert (row >> 64) & 1 == 0 and (wsf[0].x_beats[-1] >> 64) & 1 == 1
