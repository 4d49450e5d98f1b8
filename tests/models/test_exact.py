"""decode_exact / round_scaled: wide (Python int) significands, extreme exponents, bad input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import oracle
import pytest
from _cases import ROUNDINGS, same_code

from mixforge.errors import FormatError
from mixforge.models import decode_exact, get_format, round_scaled

FORMATS = ["posit8_es0", "posit8_es2", "posit16_es1", "float8_e4m3fn", "float8_e5m2",
           "float4_e2m1fn", "float16", "bfloat16", "int8", "uint4"]


def _oracle_round(name: str, sig: int, exp: int, rounding: str) -> int:
    v = Fraction(sig) * Fraction(2) ** exp
    return oracle.encode(name, v, rounding, None if get_format(name).kind != "int"
                         else "saturate")


@pytest.mark.parametrize("name", FORMATS)
def test_round_scaled_wide_python_ints_match_oracle(name: str) -> None:
    """Quire-like values: 100-300 bit significands (exact reduction + sticky bit)."""
    f = get_format(name)
    rng = np.random.default_rng(17)
    sigs, exps = [], []
    for _ in range(150):
        width = int(rng.integers(64, 300))
        s = int(rng.integers(1, 1 << 62)) << (width - 62) | int(rng.integers(0, 1 << 40))
        if rng.integers(2):
            s = -s
        sigs.append(s)
        exps.append(int(rng.integers(-20, 4)) - width)
    # exact ties far below: 2**k + 2**j patterns with a midpoint exactly representable
    sigs += [(1 << 200) + (1 << 196), -(1 << 200) - (1 << 196), (1 << 150) | 1]
    exps += [-200, -200, -150]
    pol = "saturate" if f.kind == "int" else None
    for rounding in ROUNDINGS:
        got = round_scaled(f, np.array(sigs, dtype=object), np.array(exps), rounding, pol)
        for s, e, g in zip(sigs, exps, got, strict=True):
            want = _oracle_round(name, s, e, rounding)
            assert same_code(name, int(g), want), (name, rounding, s, e, hex(g), hex(want))


@pytest.mark.parametrize("name", FORMATS)
def test_round_scaled_extreme_int64_inputs(name: str) -> None:
    f = get_format(name)
    sigs = [2**63 - 1, -(2**63 - 1), 1, -1, 3, 2**53 + 1, -(2**40 + 2**17)]
    exps = [-5000, -1000, -64, 0, 1, 70, 5000]
    pol = "saturate" if f.kind == "int" else None
    for s in sigs:
        for e in exps:
            for rounding in ("near_even", "max", "minMag"):
                got = int(round_scaled(f, np.array([s]), np.array([e]), rounding, pol)[0])
                assert same_code(name, got, _oracle_round(name, s, e, rounding)), (s, e)


def test_round_scaled_broadcasts_and_signed_zero() -> None:
    out = round_scaled("float8_e4m3fn", np.array([0, 0, 3]), 2, negative_zero=[True, False, True])
    assert out.tolist() == [0x80, 0x00, int(round_scaled("float8_e4m3fn", 3, 2))]
    assert out.dtype == np.uint8


def test_round_scaled_rejects_bad_input() -> None:
    with pytest.raises(FormatError, match="2\\*\\*63"):
        round_scaled("float16", np.array([-(2**63)], dtype=np.int64), 0)
    with pytest.raises(FormatError, match="float64"):
        round_scaled("float16", np.array([1.5]), 0)
    with pytest.raises(FormatError, match="exp must be an integer"):
        round_scaled("float16", np.array([1]), 0.5)


@pytest.mark.parametrize("name", ["posit16_es1", "float16", "int16", "posit32_es2", "float32"])
def test_decode_exact_is_exact_and_canonical(name: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(1)
    pats = np.unique(rng.integers(0, 1 << f.bits, 3000, dtype=np.uint64))
    sig, exp, sp = decode_exact(f, pats)
    assert sig.dtype == np.int64 and exp.dtype == np.int64 and sp.dtype == np.uint8
    for p, s, e, k in zip(pats, sig, exp, sp, strict=True):
        want = oracle.decode(name, int(p))
        if isinstance(want, str):
            assert k == {"nan": 1, "+inf": 2, "-inf": 3}[want] and s == 0
        else:
            assert Fraction(int(s)) * Fraction(2) ** int(e) == want, hex(int(p))
    # round_scaled of an exact decode is the identity on finite patterns (except -0 -> +0)
    fin = sp == 0
    back = round_scaled(f, sig[fin], exp[fin], overflow="wrap" if f.kind == "int" else None)
    canon = np.where(sig[fin] == 0, 0, pats[fin])
    assert np.array_equal(back.astype(np.uint64), canon)


def test_round_scaled_huge_exponents_saturate_or_underflow() -> None:
    big, tiny = 1 << 40, -(1 << 40)
    assert round_scaled("posit8_es0", [1, -1, 1], [big, big, tiny]).tolist() == [0x7F, 0x81, 0x01]
    assert round_scaled("float16", [1, -1, 1], [big, big, tiny]).tolist() == [0x7C00, 0xFC00, 0]
    assert round_scaled("float16", [-1], [tiny], "min").tolist() == [0x8001]
    assert round_scaled("int8", [1, -1, 1], [big, big, tiny], overflow="saturate").tolist() == [
        127, 128, 0]
    assert round_scaled("int8", [3], [big], overflow="wrap").tolist() == [0]
