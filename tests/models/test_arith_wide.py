"""32-bit formats (too wide to enumerate): float32 vs NumPy's IEEE float32, posit32 vs the
Posit Standard's rounding rule evaluated with Fractions (the sticky-bit path of exact_add)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import oracle

from mixforge.models import add, decode, fma, mul

P32 = "posit32_es2"


def _posit_correct(exact: Fraction, got: int) -> bool:
    """Is ``got`` the Posit Standard 2022 rounding (RNE on the encoding) of ``exact``?"""
    n = 32
    if exact == 0:
        return got == 0
    neg = exact < 0
    mag = abs(exact)
    code = ((1 << n) - got) % (1 << n) if neg else got  # magnitude's pattern
    if not 0 < code < 1 << (n - 1):
        return False
    v = oracle.decode(P32, code)
    assert not isinstance(v, str)
    if v == mag:
        return True
    if mag > v:  # got is below: the next posit must be above, and mag below the midpoint
        if code == (1 << (n - 1)) - 1:
            return True  # maxpos saturates
        lo, hi = code, code + 1
    else:
        if code == 1:
            return True  # minpos: never round to zero
        lo, hi = code - 1, code
    vlo, vhi = oracle.decode(P32, lo), oracle.decode(P32, hi)
    assert not isinstance(vlo, str) and not isinstance(vhi, str)
    if not vlo < mag < vhi:
        return False
    mid = oracle._decode_posit(n + 1, 2, (lo << 1) | 1)
    assert not isinstance(mid, str)
    want = lo if mag < mid or (mag == mid and lo % 2 == 0) else hi
    return code == want


def _rand_posit32(rng: np.random.Generator, size: int) -> np.ndarray:
    x = rng.integers(0, 1 << 32, size, dtype=np.uint64)
    x[x == 1 << 31] = 0x40000000  # no NaR in these checks
    return x


def test_posit32_add_mul_fma_are_correctly_rounded() -> None:
    rng = np.random.default_rng(12)
    a, b = _rand_posit32(rng, 600), _rand_posit32(rng, 600)
    c = _rand_posit32(rng, 600)
    c[::3] = (np.uint64(1 << 32) - mul(P32, a[::3], b[::3]).astype(np.uint64)) % np.uint64(
        1 << 32)  # near-cancellation
    s, p, f = add(P32, a, b), mul(P32, a, b), fma(P32, a, b, c)
    for i in range(a.size):
        va, vb, vc = (oracle.decode(P32, int(x[i])) for x in (a, b, c))
        assert not any(isinstance(v, str) for v in (va, vb, vc))
        assert _posit_correct(va + vb, int(s[i])), ("add", hex(a[i]), hex(b[i]))
        assert _posit_correct(va * vb, int(p[i])), ("mul", hex(a[i]), hex(b[i]))
        assert _posit_correct(va * vb + vc, int(f[i])), ("fma", hex(a[i]), hex(b[i]), hex(c[i]))


def test_float32_add_mul_match_numpy() -> None:
    rng = np.random.default_rng(8)
    a = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64)
    b[::4] = a[::4] ^ np.uint64(1 << 31)  # exact cancellation
    b[1::4] = (a[1::4] + np.uint64(3)) & np.uint64(0xFFFFFFFF)  # near-equal magnitudes
    fa, fb = a.astype(np.uint32).view(np.float32), b.astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        for got, ref in ((add("float32", a, b), fa + fb), (mul("float32", a, b), fa * fb)):
            g = got.view(np.float32)
            same = (got == ref.view(np.uint32)) | (np.isnan(g) & np.isnan(ref))
            assert same.all(), (a[~same][:3], b[~same][:3])


def test_float32_fma_matches_fraction_oracle() -> None:
    rng = np.random.default_rng(9)
    e = rng.integers(100, 150, (3, 3000)).astype(np.uint64) << np.uint64(23)
    m = rng.integers(0, 1 << 23, (3, 3000), dtype=np.uint64)
    s = rng.integers(0, 2, (3, 3000), dtype=np.uint64) << np.uint64(31)
    a, b, c = s | e | m
    c[::2] = mul("float32", a[::2], b[::2]) ^ np.uint32(1 << 31)  # near-cancellation
    got = fma("float32", a, b, c)
    vals = decode("float32", np.stack([a, b, c]))
    for i in range(a.size):
        va, vb, vc = (Fraction(float(v)) for v in vals[:, i])
        assert int(got[i]) == oracle.encode("float32", va * vb + vc), i
