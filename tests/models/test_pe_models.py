"""models/pe.py against an independent ``fractions.Fraction`` oracle."""

from __future__ import annotations

import bisect
from fractions import Fraction
from functools import cache

import ml_dtypes
import numpy as np
import pytest

from mixforge.errors import FormatError
from mixforge.models import pe

# ------------------------------------------------------------------ independent oracle


def o_posit(bits: int, n: int, es: int) -> Fraction | None:
    """Posit decode by reading the bit string (None for NaR)."""
    bits &= (1 << n) - 1
    if bits == 0:
        return Fraction(0)
    if bits == 1 << (n - 1):
        return None
    neg = bits >> (n - 1) == 1
    if neg:
        bits = (1 << n) - bits
    s = format(bits, f"0{n}b")[1:]
    r0 = s[0]
    run = len(s) - len(s.lstrip(r0))
    k = run - 1 if r0 == "1" else -run
    rest = s[run + 1:]
    e_str = (rest[:es] + "0" * es)[:es]
    f_str = rest[es:]
    e = int(e_str, 2) if es else 0
    frac = Fraction(int(f_str, 2), 2 ** len(f_str)) if f_str else Fraction(0)
    v = Fraction(2) ** (k * 2 ** es + e) * (1 + frac)
    return -v if neg else v


def o_float(fmt: str, bits: int) -> Fraction | None:
    dt = {"float16": np.float16, "float32": np.float32,
          "float4_e2m1fn": ml_dtypes.float4_e2m1fn}[fmt]
    u = {"float16": np.uint16, "float32": np.uint32, "float4_e2m1fn": np.uint8}[fmt]
    x = float(np.array([bits], u).view(dt)[0]) if fmt != "float4_e2m1fn" else float(
        np.array([bits], np.uint8).view(ml_dtypes.float4_e2m1fn)[0])
    return None if not np.isfinite(x) else Fraction(x)


def o_decode(fmt: str, bits: int) -> Fraction | None:
    if fmt.startswith("posit"):
        n, es = (int(t) for t in fmt[5:].split("_es"))
        return o_posit(bits, n, es)
    return o_float(fmt, bits)


def o_round_float(v: Fraction, eb: int, mb: int) -> int:
    bias = (1 << (eb - 1)) - 1
    if v == 0:
        return 0
    sign = int(v < 0)
    m = abs(v)
    e = 1 - bias
    while m >= Fraction(2) ** (e + 1):
        e += 1
    q = Fraction(2) ** (e - mb)
    r = round(m / q)  # Fraction.__round__ ties to even
    val = r * q
    if val >= Fraction(2) ** (bias + 1):
        return (sign << (eb + mb)) | (((1 << eb) - 1) << mb)
    bits = np.array([float(val)], np.float64).astype(np.float16 if eb == 5 else np.float32)
    return (sign << (eb + mb)) | int(bits.view(np.uint16 if eb == 5 else np.uint32)[0])


@cache
def _posit_table(n: int, es: int) -> tuple[list[Fraction], list[int]]:
    pats = [p for p in range(1, 1 << (n - 1))]
    return [o_posit(p, n, es) for p in pats], pats  # type: ignore[misc]


def o_round_posit(v: Fraction, n: int, es: int) -> int:
    if v == 0:
        return 0
    vals, pats = _posit_table(n, es)
    m = abs(v)
    i = bisect.bisect_left(vals, m)
    if i < len(vals) and vals[i] == m:
        p = pats[i]
    elif i == 0:
        p = pats[0]
    elif i == len(vals):
        p = pats[-1]
    else:
        lo = pats[i - 1]
        mid = o_posit(2 * lo + 1, n + 1, es)  # the encoding extended by one bit
        p = lo if m < mid else lo + 1 if m > mid else (lo if lo % 2 == 0 else lo + 1)
    return ((1 << n) - p) if v < 0 else p


def o_round(fmt: str, v: Fraction | None) -> int:
    if v is None:
        return pe.nan_bits(fmt)
    if fmt == "float16":
        return o_round_float(v, 5, 10)
    if fmt == "float32":
        return o_round_float(v, 8, 23)
    n, es = (int(t) for t in fmt[5:].split("_es"))
    return o_round_posit(v, n, es)


# ------------------------------------------------------------------ decode and rounding


@pytest.mark.parametrize("fmt", ["float4_e2m1fn", "float16", "posit4_es1", "posit8_es0",
                                 "posit16_es1"])
def test_decode_every_pattern(fmt: str) -> None:
    nbits = {"float4_e2m1fn": 4, "float16": 16}.get(fmt) or int(fmt[5:].split("_")[0])
    for b in range(1 << nbits):
        sig, exp, special = pe.decode_value(fmt, b)
        ref = o_decode(fmt, b)
        if ref is None:
            assert special != 0, hex(b)
        else:
            assert special == 0 and Fraction(sig) * Fraction(2) ** exp == ref, hex(b)


@pytest.mark.parametrize("fmt", ["float16", "float32", "posit16_es1", "posit8_es0"])
def test_round_fixed_random_and_ties(fmt: str) -> None:
    rng = np.random.default_rng(6)
    cases = [(0, 0), (1, -60), (-1, 60), (3, -25), (1, -25), (-3, -25), (65520, 0),
             (65519, 0), ((1 << 24) + 1, 0), ((1 << 24) + 3, 0), (1, 27), (3, 26), (1, -29)]
    for _ in range(3000):
        bl = int(rng.integers(1, 90))
        x = int.from_bytes(rng.bytes(12), "little") >> (96 - bl)
        if rng.integers(2):
            x = -x
        if rng.integers(3) == 0:  # exact ties: ...1 followed by a half
            x = (x | 1) << int(rng.integers(1, 4))
        cases.append((x, int(rng.integers(-110, 40))))
    for x, lsb in cases:
        got = pe.round_fixed(fmt, x, lsb)
        exp = o_round(fmt, Fraction(x) * Fraction(2) ** lsb)
        assert got == exp, f"x={x:#x} lsb={lsb} -> got {got:#x} expected {exp:#x}"


def test_posit_saturation_edges() -> None:
    assert pe.round_fixed("posit16_es1", 1, 200) == 0x7FFF
    assert pe.round_fixed("posit16_es1", -1, -200) == 0xFFFF  # -minpos
    assert pe.round_fixed("posit16_es1", 1, 0, nan=True) == 0x8000
    assert pe.round_fixed("float32", 1, 200) == 0x7F800000


# ------------------------------------------------------------------ shift-and-add product


@pytest.mark.parametrize("k,ternary", [(2, True), (2, False), (3, False), (4, False),
                                       (8, False)])
def test_shift_add_mul_int8_exhaustive(k: int, ternary: bool) -> None:
    w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << k), np.arange(256), indexing="ij"))
    got = pe.shift_add_mul(w, a, k=k, ternary=ternary)
    ws = [(x - (1 << k)) if x >> (k - 1) else x for x in range(1 << k)]
    if ternary:
        ws = [0, 1, 0, -1]
    ref = np.array([ws[wi] * (ai - 256 if ai >= 128 else ai) for wi, ai in zip(w, a, strict=True)])
    assert np.array_equal(got, ref)


def test_shift_add_mul_fp16_exact_and_rounded() -> None:
    a = np.arange(1 << 16)
    finite = (a >> 10) & 0x1F != 31
    for w in (0, 1, 3, 5, 7, 8, 15):  # int4 codes: 0, 1, 3, 5, 7, -8, -1
        wv = w - 16 if w >= 8 else w
        got = pe.shift_add_mul(np.full(a[finite].shape, w), a[finite], k=4, act="fp16")
        ref = np.array([int(Fraction(float(x)) * wv * 2 ** 24)
                        for x in a[finite].astype(np.uint16).view(np.float16)])
        assert np.array_equal(got, ref)
        r16 = pe.shift_add_mul(np.full(a.shape, w), a, k=4, act="fp16", out="float16")
        with np.errstate(all="ignore"):
            ref16 = (a.astype(np.uint16).view(np.float16).astype(np.float64) * wv).astype(
                np.float16)  # one exact float64 product, one rounding: a correct oracle
        same = (r16 == ref16.view(np.uint16)) | (np.isnan(ref16) & (r16 == 0x7E00))
        assert same.all(), hex(int(a[~same][0]))
    with pytest.raises(FormatError, match="non-finite"):
        pe.shift_add_mul(np.array([1]), np.array([0x7C00]), k=4, act="fp16")


# ------------------------------------------------------------------ group accumulate + dequant


def _o_shift_add_pe(w, a, s, z, k, act, group, out, ternary):
    ws = [0, 1, 0, -1] if ternary else [(x - (1 << k)) if x >> (k - 1) else x
                                        for x in range(1 << k)]
    total, nan = Fraction(0), False
    for g in range(0, len(w), group):
        idx = range(g, min(g + group, len(w)))
        sv = o_float("float16", int(s[idx[-1]]))
        zv = int(z[idx[-1]]) - 256 if int(z[idx[-1]]) >= 128 else int(z[idx[-1]])
        avs = [o_float("float16", int(a[i])) if act == "fp16" else
               Fraction(int(a[i]) - 256 if int(a[i]) >= 128 else int(a[i])) for i in idx]
        if sv is None or any(v is None for v in avs):
            nan = True
            continue
        total += sv * sum((ws[int(w[i])] - zv) * av for i, av in zip(idx, avs, strict=True))
    return o_round(out, None if nan else total)


@pytest.mark.parametrize("k,act,group,out,ternary", [
    (4, "int8", 128, "float32", False), (2, "int8", 4, "float16", True),
    (8, "int8", 7, "float32", False), (4, "fp16", 16, "float32", False),
    (3, "fp16", 5, "float16", False)])
def test_shift_add_pe_sequences(k: int, act: str, group: int, out: str, ternary: bool) -> None:
    rng = np.random.default_rng(k * 100 + group)
    for _ in range(60):
        n = int(rng.integers(1, 300))
        w = rng.integers(0, 1 << k, n)
        a = rng.integers(0, 1 << (8 if act == "int8" else 16), n)
        if act == "fp16":
            a = a & ~np.int64(0x4000) if rng.integers(2) else a  # mostly finite magnitudes
        s = rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
        z = rng.integers(0, 256, n)
        got = pe.shift_add_pe(w, a, s, z, k=k, act=act, group=group, out=out, ternary=ternary)
        exp = _o_shift_add_pe(w, a, s, z, k, act, group, out, ternary)
        assert got == exp, f"n={n} -> got {got:#x} expected {exp:#x}"


# ------------------------------------------------------------------ multi-format MAC


@pytest.mark.parametrize("mode", pe.MODES)
def test_multiformat_products(mode: str) -> None:
    fmt, lanes, lw = pe.mac_lane_formats(mode)
    rng = np.random.default_rng(len(mode))
    pairs = (np.arange(1 << (2 * lw)) if lw <= 8 else rng.integers(0, 1 << 32, 4000))
    for out in pe.OUT_FORMATS:
        for p in pairs[:: 1 if lw < 8 or out == "posit16_es1" else 7]:
            a_l, b_l = int(p) & ((1 << lw) - 1), (int(p) >> lw) & ((1 << lw) - 1)
            a = sum(((a_l + 3 * j) % (1 << lw)) << (j * lw) for j in range(lanes))
            b = sum(((b_l + 5 * j) % (1 << lw)) << (j * lw) for j in range(lanes))
            vals = [(o_decode(fmt, (a >> (j * lw)) & ((1 << lw) - 1)),
                     o_decode(fmt, (b >> (j * lw)) & ((1 << lw) - 1))) for j in range(lanes)]
            nar = any(x is None or y is None for x, y in vals)
            ref = o_round(out, None if nar else sum(x * y for x, y in vals))
            got = pe.multiformat_mac(mode, [a], [b], out=out)
            assert got == ref, f"a={a:#x} b={b:#x} -> got {got:#x} expected {ref:#x}"


def test_multiformat_sequence_mixed_modes() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(1, 50))
        modes = [pe.MODES[int(i)] for i in rng.integers(0, 4, n)]
        a, b = rng.integers(0, 1 << 16, n), rng.integers(0, 1 << 16, n)
        total, nar = Fraction(0), False
        for m, x, y in zip(modes, a, b, strict=True):
            fmt, lanes, lw = pe.mac_lane_formats(m)
            for j in range(lanes):
                u = o_decode(fmt, (int(x) >> (j * lw)) & ((1 << lw) - 1))
                v = o_decode(fmt, (int(y) >> (j * lw)) & ((1 << lw) - 1))
                if u is None or v is None:
                    nar = True
                else:
                    total += u * v
        for out in pe.OUT_FORMATS:
            assert pe.multiformat_mac(modes, a, b, out=out) == o_round(out, None if nar else total)


def test_bad_mode_and_out() -> None:
    with pytest.raises(FormatError, match="mode must be one of"):
        pe.mac_lane_formats("p32x1")
    with pytest.raises(FormatError, match="out must be one of"):
        pe.multiformat_mac("p8x2", [0], [0], out="bfloat16")
