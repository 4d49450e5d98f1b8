"""Edge-value tables (all modes) and >= 100k seeded random pairs for the 16-bit formats."""

from __future__ import annotations

import numpy as np
import oracle
import pytest
from _cases import ROUNDINGS, mismatches

from mixforge.models import add, encode, fma, get_format, mul

SIXTEEN = ["posit16_es1", "float16", "bfloat16"]
# (posit8_es0, float4_e2m1fn and the 4-bit formats are covered exhaustively elsewhere)
EDGE_FORMATS = ["posit8_es2", "float8_e4m3fn", "float8_e5m2", *SIXTEEN]


def edge_patterns(name: str) -> np.ndarray:
    """±0, smallest/largest magnitudes, subnormal/normal boundary, ±1 and neighbours, specials."""
    f = get_format(name)
    sign = 1 << (f.bits - 1)
    pats = {0, 1, 2, f.max_code, f.max_code - 1}
    pats |= {int(p) for p in encode(f, [1.0, 1.5, -1.0, 3.0, 0.75], "near_even")}
    one = int(encode(f, [1.0])[0])
    pats |= {one - 1, one + 1, f.max_code - 2}
    if f.kind == "float":
        pats |= {sign, 1 << f.man_bits, (1 << f.man_bits) - 1}  # -0, min normal, max subnormal
        pats |= {c for c in (f.nan_code, f.inf_code) if c is not None}
    else:
        pats.add(sign)  # NaR
    neg = {(p | sign) if f.kind == "float" else ((1 << f.bits) - p) % (1 << f.bits)
           for p in pats}
    return np.array(sorted((pats | neg) & set(range(1 << f.bits))), dtype=np.uint64)


@pytest.mark.parametrize("name", EDGE_FORMATS)
def test_edge_table_all_roundings(name: str) -> None:
    f = get_format(name)
    e = edge_patterns(name)
    a, b = (x.ravel() for x in np.meshgrid(e, e, indexing="ij"))
    cs = e[:: max(1, e.size // 2)]
    for rounding in ROUNDINGS:
        for vec, ref in ((mul, oracle.mul), (add, oracle.add)):
            want = [ref(name, int(x), int(y), rounding) for x, y in zip(a, b, strict=True)]
            assert not mismatches(name, vec(f, a, b, rounding), want, a, b), vec.__name__
        for c in cs:
            cc = np.full_like(a, c)
            want = [oracle.fma(name, int(x), int(y), int(c), rounding)
                    for x, y in zip(a, b, strict=True)]
            assert not mismatches(name, fma(f, a, b, cc, rounding), want, a, b, cc)


@pytest.mark.parametrize("op", ["mul", "add"])
@pytest.mark.parametrize("name", SIXTEEN)
def test_16bit_100k_seeded_pairs(name: str, op: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(2024)
    a = rng.integers(0, 1 << 16, 100_000, dtype=np.uint64)
    b = rng.integers(0, 1 << 16, 100_000, dtype=np.uint64)
    vec, ref = (mul, oracle.mul) if op == "mul" else (add, oracle.add)
    got = vec(f, a, b)
    want = [ref(name, int(x), int(y)) for x, y in zip(a, b, strict=True)]
    assert not mismatches(name, got, want, a, b)


@pytest.mark.parametrize("name", SIXTEEN)
def test_16bit_seeded_fma_and_directed_modes(name: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(99)
    a, b, c = (rng.integers(0, 1 << 16, 4000, dtype=np.uint64) for _ in range(3))
    # bias c towards the product's magnitude so cancellation actually happens
    c[::2] = mul(f, a[::2], b[::2], "minMag") ^ np.uint16(1 << 15 if f.kind == "float" else 0)
    if f.kind == "posit":
        c[::2] = (np.uint64(1 << 16) - c[::2].astype(np.uint64)) & np.uint64(0xFFFF)
    for rounding in ROUNDINGS:
        n = 4000 if rounding == "near_even" else 800
        want = [oracle.fma(name, int(x), int(y), int(z), rounding)
                for x, y, z in zip(a[:n], b[:n], c[:n], strict=True)]
        assert not mismatches(name, fma(f, a[:n], b[:n], c[:n], rounding), want, a, b, c)
        if rounding != "near_even":
            for vec, ref in ((mul, oracle.mul), (add, oracle.add)):
                want = [ref(name, int(x), int(y), rounding)
                        for x, y in zip(a[:n], b[:n], strict=True)]
                assert not mismatches(name, vec(f, a[:n], b[:n], rounding), want, a, b)


def test_posit32_products_against_oracle_midpoints() -> None:
    """posit(32,2): exact products rounded at, just below and just above (n+1)-bit midpoints."""
    from fractions import Fraction

    from mixforge.models import round_scaled

    rng = np.random.default_rng(5)
    name = "posit32_es2"
    for p in rng.integers(1, (1 << 31) - 2, 400):
        p = int(p)
        lo, hi = oracle.decode(name, p), oracle.decode(name, p + 1)
        mid = oracle._decode_posit(33, 2, (p << 1) | 1)
        assert isinstance(lo, Fraction) and isinstance(hi, Fraction) and isinstance(mid, Fraction)
        for v, want in ((mid, p if p % 2 == 0 else p + 1), (mid - (mid - lo) / 2**20, p),
                        (mid + (hi - mid) / 2**20, p + 1), (lo, p)):
            num, den = v.numerator, v.denominator
            e = den.bit_length() - 1
            assert den == 1 << e
            got = round_scaled(name, np.array([num], dtype=object), -e)
            assert int(got[0]) == want, (hex(p), v)
            neg = round_scaled(name, np.array([-num], dtype=object), -e)
            assert int(neg[0]) == (1 << 32) - want


@pytest.mark.parametrize("src", SIXTEEN)
def test_16bit_conversions_seeded(src: str) -> None:
    from mixforge.models import convert

    rng = np.random.default_rng(3)
    pats = rng.integers(0, 1 << 16, 1000, dtype=np.uint64)
    for dst in ["posit8_es0", "posit16_es1", "float8_e4m3fn", "float8_e5m2", "float16",
                "bfloat16"]:
        if dst == src:
            continue
        for rounding in ("near_even", "min"):
            got = convert(pats, src, dst, rounding)
            want = [oracle.convert(src, dst, int(p), rounding) for p in pats]
            assert not mismatches(dst, got, want, pats), (src, rounding)
