"""Exhaustive checks of mul/add/fma/convert on every input pair of the <= 8-bit formats."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import oracle
import pytest
from _cases import ROUNDINGS, all_pairs, mismatches

from mixforge.models import add, convert, decode, encode, fma, get_format, mul

EIGHT = ["posit8_es0", "float8_e4m3fn", "float8_e5m2"]
FOUR = ["posit4_es1", "float4_e2m1fn"]
OPS = {"mul": (mul, oracle.mul), "add": (add, oracle.add)}


def _fma_addends(name: str) -> list[int]:
    """The fixed third-operand set: a cancelling value and the smallest positive magnitude
    (special addends are covered by the edge tables of test_arith_edges.py)."""
    return [int(encode(get_format(name), [-1.5])[0]), 1]


@pytest.mark.parametrize("op", ["mul", "add"])
@pytest.mark.parametrize("name", EIGHT)
def test_every_pair_near_even(name: str, op: str) -> None:
    f = get_format(name)
    a, b = all_pairs(f.bits)
    vec, ref = OPS[op]
    got = vec(f, a, b)
    want = [ref(name, int(x), int(y)) for x, y in zip(a, b, strict=True)]
    assert not mismatches(name, got, want, a, b)


@pytest.mark.parametrize("name", EIGHT)
def test_fma_every_pair_fixed_addends(name: str) -> None:
    f = get_format(name)
    a, b = all_pairs(f.bits)
    for c in _fma_addends(name):
        cc = np.full_like(a, c)
        got = fma(f, a, b, cc)
        want = [oracle.fma(name, int(x), int(y), c) for x, y in zip(a, b, strict=True)]
        assert not mismatches(name, got, want, a, b, cc)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("name", FOUR)
def test_small_formats_every_triple_all_roundings(name: str, rounding: str) -> None:
    f = get_format(name)
    a, b = all_pairs(f.bits)
    for op, (vec, ref) in OPS.items():
        got = vec(f, a, b, rounding)
        want = [ref(name, int(x), int(y), rounding) for x, y in zip(a, b, strict=True)]
        assert not mismatches(name, got, want, a, b), op
    for c in range(1 << f.bits):
        cc = np.full_like(a, c)
        got = fma(f, a, b, cc, rounding)
        want = [oracle.fma(name, int(x), int(y), c, rounding) for x, y in zip(a, b, strict=True)]
        assert not mismatches(name, got, want, a, b, cc)


@pytest.mark.parametrize("rounding", ROUNDINGS[1:])
@pytest.mark.parametrize("name", EIGHT)
def test_directed_roundings_seeded_pairs(name: str, rounding: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(11)
    a = rng.integers(0, 256, 1200, dtype=np.uint64)
    b = rng.integers(0, 256, 1200, dtype=np.uint64)
    c = rng.integers(0, 256, 1200, dtype=np.uint64)
    for op, (vec, ref) in OPS.items():
        want = [ref(name, int(x), int(y), rounding) for x, y in zip(a, b, strict=True)]
        assert not mismatches(name, vec(f, a, b, rounding), want, a, b), op
    want = [oracle.fma(name, int(x), int(y), int(z), rounding) for x, y, z in zip(a, b, c,
                                                                                   strict=True)]
    assert not mismatches(name, fma(f, a, b, c, rounding), want, a, b, c)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float6_e2m3fn",
                                  "float6_e3m2fn", "float4_e2m1fn"])
def test_products_and_sums_match_ml_dtypes(name: str) -> None:
    """ml_dtypes computes in float32 (exact for these products; double rounding of sums is
    innocuous since 24 >= 2p + 2) and rounds once to nearest even."""
    f = get_format(name)
    dt = getattr(ml_dtypes, name)
    a, b = all_pairs(f.bits)
    va = a.astype(np.uint8).view(dt).astype(np.float32)
    vb = b.astype(np.uint8).view(dt).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        refs = {"mul": (va * vb).astype(dt), "add": (va + vb).astype(dt)}
    for op, ref in refs.items():
        got = OPS[op][0](f, a, b).astype(np.uint8).view(dt).astype(np.float64)
        r = ref.astype(np.float64)
        same = (got == r) & (np.signbit(got) == np.signbit(r)) | (np.isnan(got) & np.isnan(r))
        assert same.all(), (op, a[~same][:3], b[~same][:3])


CONVERT_TARGETS = ["posit4_es1", "posit8_es0", "posit8_es2", "posit16_es1", "float4_e2m1fn",
                   "float6_e2m3fn", "float6_e3m2fn", "float8_e4m3fn", "float8_e5m2", "float16",
                   "bfloat16", "int8", "uint4"]


@pytest.mark.parametrize("src", EIGHT + FOUR + ["float6_e3m2fn", "int8"])
def test_convert_every_pattern_to_every_format(src: str) -> None:
    fs = get_format(src)
    pats = np.arange(1 << fs.bits, dtype=np.uint64)
    vals = decode(fs, pats)
    for dst in CONVERT_TARGETS:
        fd = get_format(dst)
        ok = np.ones(pats.size, dtype=bool)
        if fd.kind == "int":
            ok = np.isfinite(vals)
        elif fd.nan_code is None:
            ok = ~np.isnan(vals)
        for rounding in ("near_even", "max"):
            got = convert(pats[ok], fs, fd, rounding)
            want = [oracle.convert(src, dst, int(p), rounding) for p in pats[ok]]
            assert not mismatches(dst, got, want, pats[ok]), (src, rounding)


@pytest.mark.parametrize("name", ["int2", "int4", "uint4"])
@pytest.mark.parametrize("policy", ["wrap", "saturate"])
def test_integer_ops_every_pair(name: str, policy: str) -> None:
    f = get_format(name)
    a, b = all_pairs(f.bits)
    for op, (vec, ref) in OPS.items():
        got = vec(f, a, b, overflow=policy)
        want = [ref(name, int(x), int(y), overflow=policy) for x, y in zip(a, b, strict=True)]
        assert not mismatches(name, got, want, a, b), op
