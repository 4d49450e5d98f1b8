"""Encode real values into a format's bit patterns and decode them back to float64.

Encoding is :func:`~mixforge.models.exact.round_scaled` applied to the exact split of each
float64 (a finite float64 *is* ``sig * 2**exp`` with a 53-bit ``sig``). For minifloats with at
most 4 mantissa bits (and for float32 input up to 7), and for posits of <= 16 bits, a lookup
table indexed by the top bits of the input plus a sticky bit gives the same answer faster; it is
built with the exact path (see ``_fastpath`` for why the index determines the rounding).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models._common import apply_specials, as_bits, check_rounding, resolve_overflow
from mixforge.models._fastpath import posit_encode_f64, posit_table_ok
from mixforge.models.exact import NAN, NEG_INF, POS_INF, decode_exact, round_scaled
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["encode", "decode", "split_float64"]

_CHUNK = 1 << 16  # elements per block of the table path: keeps temporaries in L2


def split_float64(x: NDArray[np.float64]
                  ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.uint8],
                             NDArray[np.bool_]]:
    """Exact split of float64 values: ``(sig, exp, special, signbit)`` with x == sig * 2**exp."""
    u = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    ef = ((u >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    frac = (u & np.uint64((1 << 52) - 1)).astype(np.int64)
    signbit = (u >> np.uint64(63)) == 1
    sig = np.where(ef == 0, frac, frac | (1 << 52))
    exp = np.where(ef == 0, -1074, ef - 1075)
    special = np.zeros(u.shape, dtype=np.uint8)
    top = ef == 0x7FF
    special[top & (frac != 0)] = NAN
    special[top & (frac == 0) & ~signbit] = POS_INF
    special[top & (frac == 0) & signbit] = NEG_INF
    sig = np.where(top, 0, sig)
    return np.where(signbit, -sig, sig), np.where(top, 0, exp), special, signbit


def _as_float(x: ArrayLike) -> NDArray[np.floating]:
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iu" and arr.dtype != np.bool_:
        big = np.abs(arr.astype(np.float64)) > 2.0**53
        if big.any():
            raise FormatError(f"integer input {int(arr[big].flat[0])} is not exactly a float64")
        return arr.astype(np.float64)
    if arr.dtype.kind == "V":  # ml_dtypes floats (bfloat16, float8_*) are void-kind dtypes
        try:
            import ml_dtypes

            ml_dtypes.finfo(arr.dtype)
            return arr.astype(np.float64)
        except (ImportError, ValueError, TypeError):
            pass
    raise FormatError(f"encode expects a real float or integer array, not dtype {arr.dtype}")


def encode(fmt: NumberFormat | str, x: ArrayLike, rounding: str = "near_even",
           overflow: str | None = None) -> NDArray[np.unsignedinteger]:
    """Round real values into ``fmt`` and return the bit patterns.

    Parameters
    ----------
    fmt
        Target format (object or name).
    x
        Real values: float16/32/64 (or ml_dtypes floats), or integers exactly representable in
        float64. The value of each element is used exactly (no intermediate rounding).
    rounding
        ``near_even`` (default), ``near_maxMag``, ``minMag``, ``min``, ``max`` (TestFloat names).
    overflow
        ``None`` for the format's default policy, or ``saturate`` / ``to_inf`` / ``to_nan`` /
        ``wrap`` where valid (see :func:`~mixforge.models.exact.round_scaled`).

    Returns
    -------
    Unsigned bit patterns in ``fmt.storage_dtype`` with the shape of ``x``.

    Notes
    -----
    ``-0.0`` encodes to the negative zero of a float format, ``+0`` for posits and integers.
    NaN encodes to the format's quiet NaN with the input's sign (ml_dtypes convention), or NaR
    for posits; it raises ``FormatError`` for integers and for floats without NaN (e.g.
    float4_e2m1fn). ``+-inf`` gives ``+-inf`` (``to_inf``), NaN with the sign (``to_nan``),
    ``+-max`` (``saturate``), NaR (posits); for integers it saturates, or raises for ``wrap``.
    """
    f = get_format(fmt)
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    arr = _as_float(x)
    if f.kind == "float" and arr.dtype in (np.float64, np.float32):
        src = "f64" if arr.dtype == np.float64 else "f32"
        if f.man_bits <= (4 if src == "f64" else 7):
            if f.nan_code is None:
                _check_no_nan(f, arr)
            return _encode_table(f, arr, src, rounding, pol)
    if posit_table_ok(f) and arr.dtype.kind == "f":
        return posit_encode_f64(f, arr.astype(np.float64), rounding)
    return _encode_exact(f, arr.astype(np.float64), rounding, pol)


def _check_no_nan(f: NumberFormat, arr: NDArray[np.floating]) -> None:
    nan = np.isnan(arr)
    if nan.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(nan)), arr.shape))
        raise FormatError(f"{f.name} has no NaN encoding: cannot encode nan at index {idx}")


def _encode_exact(f: NumberFormat, x: NDArray[np.float64], rounding: str,
                  pol: str) -> NDArray[np.unsignedinteger]:
    sig, exp, special, signbit = split_float64(x)
    code = round_scaled(f, sig, exp, rounding, pol, negative_zero=signbit).astype(np.uint64)
    if special.any():
        code = apply_specials(f, code, special, signbit, pol)
    return code.astype(f.storage_dtype)


def _table_shape(f: NumberFormat, src: str) -> tuple[int, int, type]:
    """(low bits folded into the sticky bit, table size, unsigned view type)."""
    if src == "f64":
        return 51 - f.man_bits, 1 << (14 + f.man_bits), np.uint64
    return 22 - f.man_bits, 1 << (11 + f.man_bits), np.uint32


@lru_cache(maxsize=64)
def _table(f: NumberFormat, src: str, rounding: str, pol: str) -> NDArray[np.unsignedinteger]:
    # Every rounding boundary of f (representable values and midpoints) has zero bits below the
    # kept top bits of the input, so inputs sharing top bits and "low bits nonzero" round alike;
    # each entry is computed exactly from a representative with those properties.
    low, size, ut = _table_shape(f, src)
    idx = np.arange(size, dtype=np.uint64)
    rep = ((idx >> np.uint64(1)) << np.uint64(low)) | (idx & np.uint64(1))
    with np.errstate(invalid="ignore"):  # NaN representatives stay NaN, silently
        vals = rep.astype(ut).view(np.float64 if src == "f64" else np.float32).astype(np.float64)
    if f.nan_code is None:
        vals = np.where(np.isnan(vals), 0.0, vals)  # unused entries: NaN input raises first
    tab = _encode_exact(f, vals, rounding, pol)
    tab.setflags(write=False)
    return tab


def _encode_table(f: NumberFormat, arr: NDArray[np.floating], src: str, rounding: str,
                  pol: str) -> NDArray[np.unsignedinteger]:
    tab = _table(f, src, rounding, pol)
    low, _, ut = _table_shape(f, src)
    u: NDArray[np.unsignedinteger] = np.ascontiguousarray(arr).view(ut).reshape(-1)
    out = np.empty(u.shape, dtype=tab.dtype)
    sh, lowmask, one = ut(low), ut((1 << low) - 1), ut(1)
    for i in range(0, u.size, _CHUNK):
        c = u[i:i + _CHUNK]
        hi = (c >> sh) << one
        hi |= (c & lowmask) != 0
        np.take(tab, hi, out=out[i:i + _CHUNK])
    return out.reshape(arr.shape)


def decode(fmt: NumberFormat | str, bits: ArrayLike) -> NDArray[np.float64]:
    """Decode bit patterns to float64 values (exact: every supported format fits in float64).

    Parameters
    ----------
    fmt
        Source format.
    bits
        Integer array of bit patterns; out-of-range values or non-integer dtypes raise
        ``FormatError`` naming the offending value.

    Returns
    -------
    float64 array: NaN for NaN encodings and posit NaR, ``+-inf`` for infinities, ``-0.0`` for a
    float's negative zero.
    """
    f = get_format(fmt)
    arr = np.asarray(bits)
    if f.bits <= 16 and arr.dtype.kind == "u" and arr.dtype.itemsize * 8 <= f.bits:
        return _decode_table(f)[arr]  # every value of this dtype is a valid pattern
    u = as_bits(f, arr)
    if f.bits <= 16:
        return _decode_table(f)[u.astype(np.intp)]
    return _decode_compute(f, u)


@lru_cache(maxsize=64)
def _decode_table(f: NumberFormat) -> NDArray[np.float64]:
    tab = _decode_compute(f, np.arange(1 << f.bits, dtype=np.uint64))
    tab.setflags(write=False)
    return tab


def _decode_compute(f: NumberFormat, u: NDArray[np.uint64]) -> NDArray[np.float64]:
    sig, exp, special = decode_exact(f, u)
    # Exact: |sig| < 2**32 and every exponent of a <= 32-bit format is inside float64's range.
    val = np.ldexp(sig.astype(np.float64), exp.astype(np.int32))
    if f.kind == "float":
        neg = (u >> np.uint64(f.bits - 1)) == 1
        val = np.where(neg & (val == 0), -0.0, val)
    # NaN keeps the sign bit of its pattern, as ml_dtypes does (posit NaR decodes to +NaN).
    sbit = (u >> np.uint64(f.bits - 1)) == 1
    nan = np.where(sbit & (f.kind == "float"), -np.nan, np.nan)
    val = np.where(special == NAN, nan, val)
    val = np.where(special == POS_INF, np.inf, val)
    return np.where(special == NEG_INF, -np.inf, val)
