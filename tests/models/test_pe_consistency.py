"""models/pe.py's scalar decode/rounding agree with the shared primitives of models/exact.py."""

from __future__ import annotations

import numpy as np
import pytest

from mixforge.models import pe

exact = pytest.importorskip("mixforge.models.exact")


@pytest.mark.parametrize("fmt,bits", [("float4_e2m1fn", 4), ("float16", 16),
                                      ("posit4_es1", 4), ("posit8_es0", 8),
                                      ("posit16_es1", 16)])
def test_decode_matches_decode_exact(fmt: str, bits: int) -> None:
    pats = np.arange(1 << bits, dtype=np.uint64)
    sig, exp, special = exact.decode_exact(fmt, pats)
    for p in range(1 << bits):
        s, e, x = pe.decode_value(fmt, p)
        assert x == int(special[p]), hex(p)
        if x == 0 and s != 0:
            assert s * 2.0 ** e == int(sig[p]) * 2.0 ** int(exp[p]), hex(p)


@pytest.mark.parametrize("fmt", ["float16", "float32", "posit16_es1", "posit8_es0"])
def test_round_fixed_matches_round_scaled(fmt: str) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    sig = rng.integers(-(1 << 40), 1 << 40, n) >> rng.integers(0, 40, n)
    lsb = rng.integers(-80, 40, n)
    ref = exact.round_scaled(fmt, sig, lsb)
    for i in range(n):
        got = pe.round_fixed(fmt, int(sig[i]), int(lsb[i]))
        assert got == int(ref[i]), f"x={int(sig[i]):#x} lsb={int(lsb[i])} -> {got:#x} vs " \
                                   f"{int(ref[i]):#x}"
