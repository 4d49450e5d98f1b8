"""GEMM accumulation modes, group quantization and MixPE late dequantization vs Fractions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import oracle
import pytest

from mixforge.errors import FormatError
from mixforge.models import (
    decode,
    encode,
    gemm,
    gemm_ideal,
    group_dequantize,
    group_gemm_dequant_first,
    group_gemm_late_dequant,
    group_quantize,
)


def _val(fmt: str, bits: int) -> Fraction:
    v = oracle.decode(fmt, int(bits))
    assert not isinstance(v, str)
    return v


def _rand_bits(fmt: str, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random finite patterns of ``fmt`` (specials replaced by 0)."""
    n = oracle.spec(fmt).n
    x = rng.integers(0, 1 << n, shape, dtype=np.uint64)
    bad = np.vectorize(lambda p: isinstance(oracle.decode(fmt, int(p)), str))(x)
    x[bad] = 0
    return x


@pytest.mark.parametrize("fa, fb, fo", [("posit8_es0", "posit8_es0", "posit8_es0"),
                                        ("float8_e4m3fn", "float4_e2m1fn", "float16"),
                                        ("int8", "int4", "float32"),
                                        ("float16", "float16", "float16"),
                                        ("posit16_es1", "posit16_es1", "posit16_es1")])
def test_gemm_exact_and_sequential_match_fraction_oracle(fa: str, fb: str, fo: str) -> None:
    rng = np.random.default_rng(31)
    a, b = _rand_bits(fa, (5, 19), rng), _rand_bits(fb, (19, 4), rng)
    exact = gemm(a, b, fa, fb, fo, "exact")
    seq = gemm(a, b, fa, fb, fo, "sequential")
    for i in range(5):
        for j in range(4):
            prods = [(_val(fa, a[i, k]) * _val(fb, b[k, j]),
                      (oracle.decode(fa, int(a[i, k])) < 0) != (oracle.decode(fb, int(b[k, j]))
                                                                < 0)
                      or oracle.is_negative_zero(fa, int(a[i, k]))
                      != oracle.is_negative_zero(fb, int(b[k, j])))
                     for k in range(19)]
            assert int(exact[i, j]) == oracle.encode(fo, sum((p for p, _ in prods),
                                                             Fraction(0)))
            acc = 0  # +0 in every format
            for p, pneg in prods:
                acc = oracle._sum(fo, oracle.decode(fo, acc), _neg(fo, acc), p, pneg,
                                  "near_even", None)
            assert int(seq[i, j]) == acc, (i, j)


def _neg(fmt: str, bits: int) -> bool:
    v = oracle.decode(fmt, int(bits))
    if isinstance(v, str):
        return v == "-inf"
    return oracle.is_negative_zero(fmt, bits) or v < 0


def test_gemm_specials_and_bad_shapes() -> None:
    one, inf, nan = (int(v) for v in encode("float16", [1.0, np.inf, np.nan]))
    a = np.array([[one, one], [inf, one], [nan, one]], dtype=np.uint16)
    b = np.array([[one], [0]], dtype=np.uint16)
    assert gemm(a, b, "float16").tolist() == [[one], [inf], [0x7E00]]
    b0 = np.array([[0], [one]], dtype=np.uint16)
    assert decode("float16", gemm(a[1:2], b0, "float16"))[0, 0] != decode("float16", [one])[0]
    assert np.isnan(decode("float16", gemm(a[1:2], b0, "float16")))[0, 0]  # inf * 0
    with pytest.raises(FormatError, match="inner dimensions"):
        gemm(a, a, "float16")
    with pytest.raises(FormatError, match="accumulate"):
        gemm(a, b, "float16", accumulate="pairwise")  # type: ignore[arg-type]


def reference_group_quantize(w: np.ndarray, bits: int, group: int, symmetric: bool
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight transcription of the documented GPTQ/AWQ round-to-nearest recipe (float16)."""
    k, n = w.shape
    q = np.zeros((k, n), dtype=np.int64)
    ng = -(-k // group)
    s = np.zeros((ng, n))
    z = np.zeros((ng, n), dtype=np.int64)
    for g in range(ng):
        for j in range(n):
            col = w[g * group:(g + 1) * group, j]
            if symmetric:
                qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
                span = np.abs(col).max() / qmax
                lo = 0.0
            else:
                qmin, qmax = 0, (1 << bits) - 1
                lo = min(col.min(), 0.0)
                span = (max(col.max(), 0.0) - lo) / qmax
            sc = float(np.float16(span if span != 0 else 1.0))
            s[g, j] = sc
            z[g, j] = 0 if symmetric else int(np.clip(np.rint(-lo / sc), 0, qmax))
            q[g * group:(g + 1) * group, j] = np.clip(np.rint(col / sc) + z[g, j], qmin, qmax)
    return q, s, z


@pytest.mark.parametrize("wf, bits, symmetric", [("int4", 4, True), ("uint4", 4, False),
                                                 ("int2", 2, True), ("uint8", 8, False)])
def test_group_quantize_matches_reference(wf: str, bits: int, symmetric: bool) -> None:
    rng = np.random.default_rng(5)
    w = rng.standard_normal((100, 7)) * 0.02
    w[:40, 3] = 0.0  # an all-zero group
    gq = group_quantize(w, wf, group_size=32)
    q, s, z = reference_group_quantize(w, bits, 32, symmetric)
    np.testing.assert_array_equal(gq.q_values(), q)
    np.testing.assert_array_equal(decode("float16", gq.scales), s)
    np.testing.assert_array_equal(gq.zeros, z)
    np.testing.assert_array_equal(group_dequantize(gq), s[np.arange(100) // 32] *
                                  (q - z[np.arange(100) // 32]))
    assert np.abs(group_dequantize(gq) - w).max() <= s.max() * (0.5 if symmetric else 1.0) + 1e-9


@pytest.mark.parametrize("afmt, wf, out", [("int8", "int4", "float32"),
                                           ("int8", "uint4", "float16"),
                                           ("float16", "int4", "float16"),
                                           ("float16", "uint4", "bfloat16")])
def test_group_gemm_late_and_first_match_fraction_oracle(afmt: str, wf: str, out: str) -> None:
    rng = np.random.default_rng(13)
    k, group = 80, 32
    gq = group_quantize(rng.standard_normal((k, 3)), wf, group_size=group)
    a = _rand_bits(afmt, (3, k), rng)
    if afmt == "float16":
        a = encode("float16", rng.standard_normal((3, k)) * 4)
    late = group_gemm_late_dequant(a, afmt, gq, out)
    first = group_gemm_dequant_first(a, afmt, gq, "float16", out)
    qv, zs = gq.q_values(), gq.zeros
    for i in range(3):
        for j in range(3):
            y = 0
            for g in range(-(-k // group)):
                rows = range(g * group, min((g + 1) * group, k))
                d = sum((_val(afmt, a[i, r]) * (int(qv[r, j]) - int(zs[g, j])) for r in rows),
                        Fraction(0))
                s = _val("float16", gq.scales[g, j])
                y = oracle.encode(out, _val(out, y) + s * d)
            assert int(late[i, j]) == y, (i, j)
            acc = 0
            for r in range(k):
                g = r // group
                wd = oracle.encode("float16", _val("float16", gq.scales[g, j]) *
                                   (int(qv[r, j]) - int(zs[g, j])))
                p = _val(afmt, a[i, r]) * _val("float16", wd)
                acc = oracle._sum(out, _val(out, acc), _neg(out, acc), p,
                                  p < 0 or (p == 0 and (_neg(afmt, int(a[i, r])) !=
                                                        _neg("float16", wd))),
                                  "near_even", None)
            assert int(first[i, j]) == acc, (i, j)
    ideal = gemm_ideal(a, afmt, gq)
    np.testing.assert_allclose(ideal, decode(afmt, a) @ group_dequantize(gq))


def test_group_gemm_rejects_bad_input() -> None:
    gq = group_quantize(np.ones((8, 2)), "int4", group_size=4)
    with pytest.raises(FormatError, match="inner dimensions"):
        group_gemm_late_dequant(np.zeros((2, 9), dtype=np.uint8), "int8", gq)
    with pytest.raises(FormatError, match="NaN"):
        group_gemm_late_dequant(encode("float16", np.full((1, 8), np.nan)), "float16", gq)
    with pytest.raises(FormatError, match="integer w_fmt"):
        group_quantize(np.ones((8, 2)), "float8_e4m3fn")
    with pytest.raises(FormatError, match="2-D float"):
        group_quantize(np.ones(8), "int4")
