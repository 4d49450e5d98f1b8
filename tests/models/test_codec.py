"""Encode/decode of every format against the Fraction oracle and ml_dtypes; bad input."""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import oracle
import pytest
from _cases import ROUNDINGS, probe_values, same_code

from mixforge.errors import FormatError
from mixforge.models import NumberFormat, decode, decode_exact, encode, get_format

SMALL = ["posit4_es1", "posit8_es0", "posit8_es2", "posit6_es3", "posit5_es0", "posit2_es0",
         "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e4m3fn", "float8_e5m2",
         "int4", "uint4", "int8", "uint8", "int2"]
WIDE16 = ["posit16_es1", "float16", "bfloat16"]
MINIFLOATS = ["float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e4m3fn",
              "float8_e5m2", "bfloat16"]


def _ml(name: str) -> type:
    return getattr(ml_dtypes, name)


@pytest.mark.parametrize("name", SMALL + WIDE16)
def test_decode_exact_every_pattern_matches_oracle(name: str) -> None:
    f = get_format(name)
    pats = np.arange(1 << f.bits, dtype=np.uint64)
    sig, exp, special = decode_exact(f, pats)
    vals = decode(f, pats)
    for p in range(1 << f.bits):
        want = oracle.decode(name, p)
        if isinstance(want, str):
            assert special[p] == {"nan": 1, "+inf": 2, "-inf": 3}[want], hex(p)
            assert np.isnan(vals[p]) if want == "nan" else vals[p] == float(want.replace("+", ""))
        else:
            got = Fraction(int(sig[p])) * Fraction(2) ** int(exp[p])
            assert special[p] == 0 and got == want, f"{name} {hex(p)}: {got} != {want}"
            assert Fraction(float(vals[p])) == want
            if want == 0:
                assert bool(np.signbit(vals[p])) == oracle.is_negative_zero(name, p)


@pytest.mark.parametrize("name", MINIFLOATS)
def test_decode_every_pattern_matches_ml_dtypes(name: str) -> None:
    f = get_format(name)
    pats = np.arange(1 << f.bits)
    ref = pats.astype(np.uint8 if f.bits <= 8 else np.uint16).view(_ml(name)).astype(np.float64)
    got = decode(f, pats)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert np.array_equal(got[ok], ref[ok])
    assert np.array_equal(np.signbit(got), np.signbit(ref))  # NaN sign and -0 included


@pytest.mark.parametrize("name", MINIFLOATS + ["float16"])
def test_encode_float32_matches_ml_dtypes(name: str) -> None:
    """On and between points, ties, overflow, NaN/inf with each format's default policy."""
    f = get_format(name)
    stride = 32 if f.bits > 8 else 1
    with np.errstate(over="ignore"):
        x = np.array([v for v in probe_values(name, stride) if v == np.float32(v) or np.isnan(v)],
                     dtype=np.float64)
    x32 = x.astype(np.float32)
    # float32 neighbours of the probes exercise "just off a tie" at float32 resolution
    x32 = np.concatenate([x32, np.nextafter(x32, np.float32(np.inf)),
                          np.nextafter(x32, np.float32(-np.inf)), [np.nan, -np.nan]])
    if f.nan_code is None:
        x32 = x32[~np.isnan(x32)]
    dt = np.float16 if name == "float16" else _ml(name)
    with np.errstate(over="ignore"):
        ref = x32.astype(dt).view(np.uint8 if f.bits <= 8 else np.uint16)
    got = encode(f, x32)
    bad = [(float(v), hex(g), hex(r)) for v, g, r in zip(x32, got, ref, strict=True) if g != r]
    assert not bad, bad[:5]
    assert np.array_equal(encode(f, x32.astype(np.float64)), got)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("name", SMALL + ["float16"])
def test_encode_all_roundings_match_oracle(name: str, rounding: str) -> None:
    f = get_format(name)
    x = np.array(probe_values(name, 64 if f.bits > 8 else 1), dtype=np.float64)
    if f.kind == "int":
        x = x[np.isfinite(x)]
    if f.nan_code is None and f.kind == "float":
        x = x[~np.isnan(x)]
    got = encode(f, x, rounding)
    for v, g in zip(x, got, strict=True):
        want_v = Fraction(v) if np.isfinite(v) else ("nan" if np.isnan(v) else
                                                     ("-inf" if v < 0 else "+inf"))
        want = oracle.encode(name, want_v, rounding, negative_zero=bool(np.signbit(v)))
        assert same_code(name, int(g), want), f"{name} {rounding} {v!r}: {hex(g)} != {hex(want)}"


@pytest.mark.parametrize("policy", ["saturate", "to_inf", "to_nan"])
@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "float16"])
def test_overflow_policies_match_oracle(name: str, policy: str) -> None:
    f = get_format(name)
    if (policy == "to_inf" and f.inf_code is None) or (policy == "to_nan" and f.nan_code is None):
        with pytest.raises(FormatError, match=policy):
            encode(f, [1.0], overflow=policy)
        return
    big = float(decode(f, [f.max_code])[0])
    x = np.array([big, big * 1.01, big * 1.0625, big * 1.2, big * 4, np.inf, 1e300])
    x = np.concatenate([x, -x])
    for rounding in ROUNDINGS:
        got = encode(f, x, rounding, overflow=policy)
        for v, g in zip(x, got, strict=True):
            fv = Fraction(v) if np.isfinite(v) else ("+inf" if v > 0 else "-inf")
            want = oracle.encode(name, fv, rounding, policy)
            assert same_code(name, int(g), want), f"{name} {policy} {rounding} {v}"


def test_posit_never_rounds_to_zero_or_nar() -> None:
    for name in ("posit4_es1", "posit8_es0", "posit16_es1", "posit32_es2"):
        f = get_format(name)
        for r in ROUNDINGS if f.bits <= 8 else ("near_even", "min", "max"):
            got = encode(f, [1e-300, -1e-300, 1e300, -1e300, 5e-324], r)
            assert got.tolist() == [1, f.mask, f.max_code, f.mask - f.max_code + 1, 1], name
        assert encode(f, [np.nan, np.inf, -np.inf]).tolist() == [1 << (f.bits - 1)] * 3


def test_signed_zero_and_nan_sign() -> None:
    assert encode("float8_e4m3fn", [-0.0, 0.0]).tolist() == [0x80, 0x00]
    assert encode("posit8_es0", [-0.0]).tolist() == [0]
    assert encode("float8_e5m2", [np.nan, -np.nan]).tolist() == [0x7E, 0xFE]
    assert encode("float16", [-np.inf]).tolist() == [0xFC00]


def test_integer_wrap_and_saturate() -> None:
    x = [127.0, 128.0, 300.0, -129.0, -128.0, 2.5, -2.5, 1e20, -1e20]
    assert encode("int8", x, overflow="wrap").tolist() == [
        127, 128, 300 % 256, (-129) % 256, 128, 2, 254, 0, 0]
    assert encode("int8", x, overflow="saturate").tolist() == [
        127, 127, 127, 128, 128, 2, 254, 127, 128]
    assert encode("uint4", [-1.0, 17.0, 15.5], overflow="saturate").tolist() == [0, 15, 15]
    assert encode("uint4", [-1.0, 17.0], overflow="wrap").tolist() == [15, 1]
    assert encode("int8", [np.inf, -np.inf], overflow="saturate").tolist() == [127, 128]


@pytest.mark.parametrize("name", ["float32", "posit32_es2", "posit20_es3", "int32"])
def test_wide_formats_roundtrip(name: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(7)
    pats = rng.integers(0, 1 << f.bits, 20000, dtype=np.uint64)
    vals = decode(f, pats)
    for p in pats[:300]:
        want = oracle.decode(name, int(p))
        got = decode(f, [p])[0]
        assert (isinstance(want, str) and not np.isfinite(got)) or Fraction(float(got)) == want
    fin = np.isfinite(vals)
    back = encode(f, vals[fin])
    canon = pats[fin]
    if f.kind == "float":
        canon = np.where(vals[fin] == 0, canon & np.uint64(1 << 31), canon)
    assert np.array_equal(back.astype(np.uint64), canon)


def test_float32_encode_matches_numpy_cast() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(50000) * 10.0 ** rng.integers(-45, 39, 50000),
                        [3.4028235677973366e38, 3.4028236e38, 1.4e-45, 7e-46, 2.0**-150]])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float32).view(np.uint32)
    assert np.array_equal(encode("float32", x), ref)
    # the oracle's constructive (non-enumerating) float32 path agrees, in every mode
    for rounding in ROUNDINGS:
        got = encode("float32", x[::250], rounding)
        for v, g in zip(x[::250], got, strict=True):
            assert int(g) == oracle.encode("float32", Fraction(v), rounding), (rounding, v)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad, match", [
    (np.array([1.0]), "dtype float64"),
    (np.array([True]), "dtype bool"),
    (np.array([0x100], dtype=np.uint16), "0x100"),
    (np.array([-3]), "-3"),
])
def test_decode_rejects_bad_patterns(bad: np.ndarray, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        decode("float8_e4m3fn", bad)
    with pytest.raises(FormatError, match=match):
        decode_exact("float8_e4m3fn", bad)


def test_bad_formats_and_options() -> None:
    for name, match in (("posit1_es0", "posit n"), ("posit8_es7", "es"), ("float9", "unknown"),
                        ("int64", "width")):
        with pytest.raises(FormatError, match=match):
            get_format(name)
    with pytest.raises(FormatError, match="es"):
        NumberFormat("p", "posit", 8, es=-1)
    with pytest.raises(FormatError, match="posit n"):
        NumberFormat("p", "posit", 1)
    with pytest.raises(FormatError, match="rounding"):
        encode("float16", [1.0], rounding="nearest")
    with pytest.raises(FormatError, match="wrap"):
        encode("float16", [1.0], overflow="wrap")
    with pytest.raises(FormatError, match="saturate"):
        encode("posit8_es0", [1.0], overflow="to_inf")
    with pytest.raises(FormatError, match="no NaN.*index \\(1,\\)"):
        encode("float4_e2m1fn", [1.0, np.nan])
    with pytest.raises(FormatError, match="nan"):
        encode("int8", [np.nan])
    with pytest.raises(FormatError, match="dtype complex"):
        encode("float16", np.array([1j]))
