"""Shared test-case generators for tests/models (uses the vectorised code; oracle.py does not)."""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
import oracle

ROUNDINGS = ("near_even", "near_maxMag", "minMag", "min", "max")


def exact_value(fmt: str, bits: int) -> Fraction | str:
    return oracle.decode(fmt, bits)


def same_code(fmt: str, got: int, want: int) -> bool:
    """Equal patterns, or both NaN (NaN payload/sign of operation results is not specified)."""
    if got == want:
        return True
    return oracle.decode(fmt, got) == "nan" and oracle.decode(fmt, want) == "nan"


@cache
def probe_values(fmt: str, stride: int = 1) -> tuple[float, ...]:
    """float64 values on and between the representable points of a <= 16-bit format.

    Every finite value, every midpoint between neighbours (arithmetic midpoints, and the
    (n+1)-bit midpoints for posits), both float64 neighbours of each midpoint, values beyond
    the largest magnitude, tiny values, signed zeros and the float specials.
    """
    spec = oracle.spec(fmt)
    vals = sorted({v for c in range(1 << spec.n)
                   if not isinstance(v := oracle.decode(fmt, c), str)})
    out: set[float] = set()
    pairs = list(zip(vals, vals[1:], strict=False))
    # a stride > 1 samples neighbour pairs (always keeping both ends of the range)
    pairs = pairs[:8] + pairs[8:-8:stride] + pairs[-8:]
    for lo, hi in pairs:
        mids = [(lo + hi) / 2]
        if spec.kind == "posit" and lo > 0:
            code = vals_codes(fmt)[lo]
            m = oracle.decode(f"posit{spec.n + 1}_es{spec.es}", (code << 1) | 1)
            assert not isinstance(m, str)
            mids.append(m)
        for m in mids:
            f = float(m)
            if Fraction(f) == m:
                out.update((f, np.nextafter(f, -np.inf), np.nextafter(f, np.inf)))
    out.update(float(v) for v in vals[::stride])
    big = float(max(vals))
    out.update((big * 1.25, big * 1.5, big * 2, big * 1e6, -big * 3, 1e300, -1e300))
    small = float(min(v for v in vals if v > 0))
    out.update((small / 2, small / 3, small * 0.75, -small / 2, 5e-324, -5e-324, 1e-300))
    out.update((0.0, -0.0, np.inf, -np.inf))
    return tuple(sorted(out, key=lambda v: (v, np.signbit(v))))


@cache
def vals_codes(fmt: str) -> dict[Fraction, int]:
    spec = oracle.spec(fmt)
    return {v: c for c in range(1 << spec.n)
            if not isinstance(v := oracle.decode(fmt, c), str)}


def all_pairs(bits: int) -> tuple[np.ndarray, np.ndarray]:
    n = 1 << bits
    a, b = np.meshgrid(np.arange(n, dtype=np.uint64), np.arange(n, dtype=np.uint64),
                       indexing="ij")
    return a.ravel(), b.ravel()


def mismatches(fmt: str, got: np.ndarray, want: list[int], *operands: np.ndarray) -> list[str]:
    """Hex descriptions of the first few disagreements."""
    bad = []
    for i, w in enumerate(want):
        g = int(got[i])
        if not same_code(fmt, g, w):
            ops = " ".join(f"{hex(int(o[i]))}" for o in operands)
            bad.append(f"{fmt}: {ops} -> got {hex(g)} expected {hex(w)}")
            if len(bad) >= 5:
                break
    return bad
