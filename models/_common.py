"""Private helpers shared by the models/ modules: input validation and bit-twiddling kernels."""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models.formats import ROUNDINGS, NumberFormat, Overflow

__all__: list[str] = []

U64 = NDArray[np.uint64]
I64 = NDArray[np.int64]
_ONE = np.uint64(1)


def check_rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise FormatError(f"unknown rounding mode {rounding!r} (known: {', '.join(ROUNDINGS)})")
    return rounding


def resolve_overflow(fmt: NumberFormat, overflow: str | None) -> Overflow:
    """The overflow policy to use: ``overflow`` if given, else the format's default."""
    pol = fmt.overflow if overflow is None else overflow
    if pol not in ("saturate", "to_inf", "to_nan", "wrap"):
        raise FormatError(f"unknown overflow policy {pol!r}")
    if fmt.kind == "int":
        if pol not in ("wrap", "saturate"):
            raise FormatError(f"{fmt.name}: overflow policy must be wrap or saturate, not {pol!r}")
    elif fmt.kind == "posit":
        if pol != "saturate":
            raise FormatError(f"{fmt.name}: posits always saturate, overflow={pol!r} is invalid")
    elif pol == "wrap":
        raise FormatError(f"{fmt.name}: overflow policy 'wrap' is only valid for integers")
    elif pol == "to_inf" and fmt.inf_code is None:
        raise FormatError(f"{fmt.name}: has no infinity, overflow='to_inf' is invalid")
    elif pol == "to_nan" and fmt.nan_code is None:
        raise FormatError(f"{fmt.name}: has no NaN, overflow='to_nan' is invalid")
    return cast(Overflow, pol)


def as_bits(fmt: NumberFormat, bits: ArrayLike, what: str = "bits") -> U64:
    """Validate bit patterns of ``fmt`` and return them as a uint64 array (same shape).

    Accepts any integer dtype; raises ``FormatError`` naming the first offending value for a
    non-integer dtype, a negative value or a value ``>= 2**fmt.bits``.
    """
    arr = np.asarray(bits)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise FormatError(f"{fmt.name}: {what} must be an unsigned integer array of bit patterns, "
                          f"not dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        bad = arr < 0
        if bad.any():
            raise FormatError(f"{fmt.name}: {what} contains negative value "
                              f"{int(arr[bad].flat[0])}; bit patterns are unsigned")
    u = arr.astype(np.uint64)
    if fmt.bits < 64:
        bad = u > np.uint64(fmt.mask)
        if bad.any():
            raise FormatError(f"{fmt.name}: {what} contains out-of-range pattern "
                              f"{hex(int(u[bad].flat[0]))} (>= 2**{fmt.bits})")
    return u


def to_storage(fmt: NumberFormat, code: NDArray[np.integer]) -> NDArray[np.unsignedinteger]:
    return np.asarray(code).astype(fmt.storage_dtype)


def bitlen(mag: U64) -> I64:
    """Bit length of each element of a uint64 array with values ``<= 2**63`` (0 -> 0)."""
    _, e = np.frexp(mag.astype(np.float64))
    e = e.astype(np.int64)
    # float64 conversion may round up to the next power of two; correct that case.
    sh = np.clip(e - 1, 0, 63).astype(np.uint64)
    return e - ((mag >> sh) == 0).astype(np.int64) * (mag != 0)


def shift_right(mag: U64, s: I64) -> tuple[U64, U64, U64]:
    """Split ``mag / 2**s`` into (kept, remainder, half) for rounding.

    ``s <= 0`` shifts left exactly (the caller guarantees no overflow); ``s >= 64`` keeps
    nothing. ``half`` is the remainder weight of one half unit (``2**(s-1)``), set above every
    possible remainder when ``s >= 64`` and to 0 when the result is exact by construction.
    """
    s = np.asarray(s, dtype=np.int64)
    sr = np.clip(s, 0, 63).astype(np.uint64)
    kept = mag >> sr
    rem = mag - (kept << sr)
    half = (_ONE << sr) >> _ONE
    big = s > 63
    if big.any():
        kept = np.where(big, np.uint64(0), kept)
        rem = np.where(big, mag, rem)
        half = np.where(big, np.uint64(1 << 63), half)
    left = s < 0
    if left.any():
        kept = np.where(left, mag << np.clip(-s, 0, 63).astype(np.uint64), kept)
    return kept, rem, half


def increment(kept: U64, rem: U64, half: U64, neg: NDArray[np.bool_], rounding: str) -> U64:
    """The rounding increment (0 or 1) for a magnitude ``kept + rem/(2*half)``."""
    inexact = rem != 0
    if rounding == "near_even":
        inc = (rem > half) | ((rem == half) & inexact & ((kept & _ONE) == _ONE))
    elif rounding == "near_maxMag":
        inc = (rem >= half) & inexact
    elif rounding == "minMag":
        inc = np.zeros(kept.shape, dtype=bool)
    elif rounding == "min":
        inc = inexact & neg
    else:  # "max"
        inc = inexact & ~neg
    return inc.astype(np.uint64)


def signed_to_mag(sig: ArrayLike) -> tuple[U64, NDArray[np.bool_]]:
    """int64 significands -> (magnitude as uint64, negative mask); rejects ``-2**63``."""
    s = np.asarray(sig, dtype=np.int64)
    if (s == np.iinfo(np.int64).min).any():
        raise FormatError("significand -2**63 is out of range (|sig| must be < 2**63)")
    neg = s < 0
    return np.abs(s).astype(np.uint64), neg


def apply_specials(f: NumberFormat, code: U64, special: NDArray[np.uint8],
                   signbit: NDArray[np.bool_], pol: str) -> U64:
    """Replace ``code`` where ``special`` is NaN (1) / +inf (2) / -inf (3), per ``f`` and policy.

    NaN -> the format's NaN with ``signbit`` (NaR for posits; ``FormatError`` for integers and
    NaN-less floats). inf -> inf (``to_inf``), NaN (``to_nan``), +-max finite (``saturate``),
    NaR (posits); integers saturate and raise under ``wrap``.
    """
    code = np.asarray(code, dtype=np.uint64)
    nan, inf = special == 1, (special == 2) | (special == 3)
    sbit = np.uint64(1 << (f.bits - 1))
    if f.kind == "posit":
        return np.where(nan | inf, sbit, code)
    if f.kind == "int":
        if nan.any() or (inf.any() and pol == "wrap"):
            what = "nan" if nan.any() else "inf"
            raise FormatError(f"{f.name}: cannot represent {what} in an integer "
                              f"(overflow={pol})")
        hi = np.uint64(f.max_code)
        lo = np.uint64((1 << (f.bits - 1)) if f.signed else 0)
        return np.where(special == 2, hi, np.where(special == 3, lo, code))
    if nan.any() and f.nan_code is None:
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(nan)), nan.shape))
        raise FormatError(f"{f.name} has no NaN encoding: cannot encode nan at index {idx}")
    signs = np.where(signbit, sbit, np.uint64(0))
    if nan.any():
        code = np.where(nan, np.uint64(f.nan_code or 0) | signs, code)
    inf_to = {"to_inf": f.inf_code, "to_nan": f.nan_code, "saturate": f.max_code}[pol]
    if inf_to is None:
        raise FormatError(f"{f.name}: overflow policy {pol!r} is invalid")
    return np.where(inf, np.uint64(inf_to) | signs, code)
