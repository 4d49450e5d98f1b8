"""Quire: exact accumulation, one rounding, NaR, width; against the Fraction oracle."""

from __future__ import annotations

import numpy as np
import oracle
import pytest

from mixforge.errors import FormatError
from mixforge.models import Quire, encode, get_format, quire_dot, quire_madd, quire_to_posit


@pytest.mark.parametrize("name", ["posit8_es0", "posit16_es1", "posit8_es2", "float8_e4m3fn",
                                  "float4_e2m1fn", "posit32_es2"])
def test_quire_dot_matches_oracle(name: str) -> None:
    f = get_format(name)
    rng = np.random.default_rng(4)
    a = rng.integers(0, 1 << f.bits, (40, 24), dtype=np.uint64)
    b = rng.integers(0, 1 << f.bits, (40, 24), dtype=np.uint64)
    nan = f.nan_code if f.kind == "float" else None
    if nan is not None:  # keep most rows finite so the rounding path is exercised
        a[:-2][a[:-2] & np.uint64(0x7F) == np.uint64(0x7F)] = 0
        b[:-2][b[:-2] & np.uint64(0x7F) == np.uint64(0x7F)] = 0
    out = quire_dot(f, a, b)
    if name == "posit32_es2":  # the oracle enumerates <= 16-bit formats: check via posit16
        return _check_posit32(a, b, out)
    for i in range(a.shape[0]):
        want = oracle.dot(name, [int(x) for x in a[i]], [int(y) for y in b[i]])
        got = int(out[i])
        assert got == want or (oracle.decode(name, got) == oracle.decode(name, want) == "nan")


def _check_posit32(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    from fractions import Fraction

    for i in range(a.shape[0]):
        vals = [(oracle.decode("posit32_es2", int(x)), oracle.decode("posit32_es2", int(y)))
                for x, y in zip(a[i], b[i], strict=True)]
        if any(isinstance(v, str) for pair in vals for v in pair):
            assert int(out[i]) == 1 << 31
            continue
        total = sum((x * y for x, y in vals), Fraction(0))
        got = oracle.decode("posit32_es2", int(out[i]))
        assert not isinstance(got, str)
        # correctly rounded: no posit32 lies strictly between total and the result
        if total != got:
            nxt = oracle.decode("posit32_es2", (int(out[i]) + (1 if total > got else -1))
                                % (1 << 32))
            assert not isinstance(nxt, str)
            assert min(got, nxt) < total < max(got, nxt) or total > 0 > got or total < 0 < got


def test_quire_is_exact_across_huge_cancellation() -> None:
    f = get_format("posit16_es1")
    maxpos, minpos = np.uint16(f.max_code), np.uint16(1)
    neg_max = np.uint16((1 << 16) - f.max_code)
    q = Quire.zeros(f)
    q = quire_madd(q, maxpos, maxpos)
    q = quire_madd(q, minpos, minpos)
    q = quire_madd(q, neg_max, maxpos)  # subtracts maxpos**2 exactly
    assert int(quire_to_posit(q)) == 1  # minpos**2 rounds up to minpos (never to 0)
    q = quire_madd(q, minpos, minpos, subtract=True)
    assert int(quire_to_posit(q)) == 0  # an exact zero reads 0
    assert q.value_fraction() == 0


def test_quire_nar_and_float_readout() -> None:
    f = get_format("posit8_es0")
    q = quire_madd(Quire.zeros(f, (2,)), np.array([0x40, 0x80], dtype=np.uint8),
                   np.array([0x40, 0x40], dtype=np.uint8))
    assert quire_to_posit(q).tolist() == [0x40, 0x80]
    assert quire_to_posit(q, "float16").tolist()[0] == int(encode("float16", [1.0])[0])
    with pytest.raises(FormatError, match="NaR"):
        quire_to_posit(q, "int8")


def test_quire_width_matches_standard() -> None:
    assert Quire.zeros("posit8_es2").nbits == 128
    assert Quire.zeros("posit16_es2").nbits == 256
    assert Quire.zeros("posit32_es2").nbits == 512
    assert Quire.zeros("posit16_es1").lsb_exp == -56


def test_quire_float_accumulation_of_many_terms() -> None:
    """10,000 float8 products accumulate exactly (beyond what int64 or float64 would hold)."""
    f = get_format("float8_e5m2")
    rng = np.random.default_rng(8)
    a = rng.integers(0, 0x7B, 10_000, dtype=np.uint64) | (rng.integers(0, 2, 10_000,
                                                                         dtype=np.uint64) << 7)
    b = rng.integers(0, 0x7B, 10_000, dtype=np.uint64)
    q = quire_madd(Quire.zeros(f), a, b, axis=0)
    from fractions import Fraction

    exact = sum((oracle.decode("float8_e5m2", int(x)) * oracle.decode("float8_e5m2", int(y))
                 for x, y in zip(a, b, strict=True)), Fraction(0))
    assert q.value_fraction() == exact
    assert int(quire_to_posit(q, "float16")) == oracle.encode("float16", exact)
