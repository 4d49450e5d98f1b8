"""Exact primitives: bit patterns <-> exact ``sig * 2**exp``, and rounding an exact value once.

These two functions are the whole numerical contract of models/: every operation (encode,
mul/add/fma, convert, quire readout, MX, PE semantics in ``models/pe.py``) computes an exact
``sig * 2**exp`` and calls :func:`round_scaled` once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models import _posit
from mixforge.models._common import (
    I64,
    U64,
    as_bits,
    bitlen,
    check_rounding,
    increment,
    resolve_overflow,
    shift_right,
    signed_to_mag,
)
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["decode_exact", "round_scaled", "FINITE", "NAN", "POS_INF", "NEG_INF"]

#: ``special`` codes returned by :func:`decode_exact`.
FINITE, NAN, POS_INF, NEG_INF = 0, 1, 2, 3
_ONE = np.uint64(1)
#: Significands wider than this are reduced (with a sticky bit) before rounding.
_SIG_BITS = 60


def decode_exact(fmt: NumberFormat | str, bits: ArrayLike
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.uint8]]:
    """Decode bit patterns into exact ``(sig, exp, special)`` with ``value == sig * 2**exp``.

    Parameters
    ----------
    fmt
        A :class:`NumberFormat` or format name.
    bits
        Integer array of bit patterns (any integer dtype, values in ``[0, 2**fmt.bits)``).

    Returns
    -------
    sig : int64 array
        Signed significand (0 for zeros and for specials). For floats it includes the hidden bit;
        for posits it is ``1.frac`` as an integer; for integers it is the value itself.
    exp : int64 array
        Power-of-two exponent (0 for zeros and specials).
    special : uint8 array
        0 finite, 1 NaN (posit NaR), 2 +inf, 3 -inf.

    Notes
    -----
    ``-0.0`` decodes to ``sig == 0`` (the sign of zero is not a value; callers needing it test
    the sign bit). Raises ``FormatError`` for non-integer dtypes and out-of-range patterns.
    """
    f = get_format(fmt)
    u = as_bits(f, bits)
    if f.bits <= 16:
        sig_t, exp_t, sp_t = _decode_table(f)
        idx = u.astype(np.intp)
        return sig_t[idx], exp_t[idx], sp_t[idx]
    return _decode_compute(f, u)


@lru_cache(maxsize=64)
def _decode_table(f: NumberFormat) -> tuple[I64, I64, NDArray[np.uint8]]:
    sig, exp, sp = _decode_compute(f, np.arange(1 << f.bits, dtype=np.uint64))
    for a in (sig, exp, sp):
        a.setflags(write=False)
    return sig, exp, sp


def _decode_compute(f: NumberFormat, u: U64) -> tuple[I64, I64, NDArray[np.uint8]]:
    if f.kind == "posit":
        return _posit.decode_exact(f, u)
    special = np.zeros(u.shape, dtype=np.uint8)
    if f.kind == "int":
        val = u.astype(np.int64)
        if f.signed:
            val = np.where(val >= 1 << (f.bits - 1), val - (1 << f.bits), val)
        return val, np.zeros(u.shape, dtype=np.int64), special
    m = f.man_bits
    sign = (u >> np.uint64(f.bits - 1)) & _ONE
    e_field = ((u >> np.uint64(m)) & np.uint64((1 << f.exp_bits) - 1)).astype(np.int64)
    frac = (u & np.uint64((1 << m) - 1)).astype(np.int64)
    sig = np.where(e_field == 0, frac, frac | (1 << m))
    exp = np.where(e_field == 0, f.emin, e_field - f.bias) - m
    body = u & np.uint64((1 << (f.bits - 1)) - 1)
    if f.nan_style == "ieee":
        top = e_field == (1 << f.exp_bits) - 1
        special[top & (frac != 0)] = NAN
        special[top & (frac == 0)] = np.where(sign[top & (frac == 0)] == 1, NEG_INF, POS_INF)
    elif f.nan_style == "all_ones":
        special[body == np.uint64((1 << (f.bits - 1)) - 1)] = NAN
    sig = np.where(sign == 1, -sig, sig)
    sig = np.where(special != 0, 0, sig)
    exp = np.where((special != 0) | (sig == 0), 0, exp)
    return sig.astype(np.int64), exp.astype(np.int64), special


def round_scaled(fmt: NumberFormat | str, sig: ArrayLike, exp: ArrayLike,
                 rounding: str = "near_even", overflow: str | None = None, *,
                 negative_zero: ArrayLike | None = None) -> NDArray[np.unsignedinteger]:
    """Round the exact values ``sig * 2**exp`` once into ``fmt``.

    Parameters
    ----------
    fmt
        Target format.
    sig
        Signed significands: an int64 array (``|sig| < 2**63``), or an object array / Python
        ints of any width (e.g. quire contents), which are first reduced exactly to 60 bits
        plus a sticky bit (that cannot change any rounding into a <= 32-bit format).
    exp
        Integer exponent(s), broadcast against ``sig``.
    rounding
        TestFloat mode: ``near_even`` (default), ``near_maxMag``, ``minMag``, ``min``, ``max``.
    overflow
        ``None`` for the format's default, else ``saturate``, ``to_inf``, ``to_nan`` (floats),
        ``wrap`` (integers). Posits always saturate.
    negative_zero
        Optional boolean mask: where ``sig == 0`` and this is true, floats return ``-0``.

    Returns
    -------
    Unsigned bit patterns in ``fmt.storage_dtype``, shape of the broadcast inputs.

    Notes
    -----
    Floats: IEEE 754 rounding with unbounded exponent first, gradual underflow (a nonzero that
    rounds to 0 keeps its sign), then overflow per policy: ``to_inf``/``to_nan`` give inf/NaN in
    the nearest modes and in the directed mode pointing away from zero, and the largest finite
    value in the others; ``saturate`` always gives the largest finite value.
    Posits (Posit Standard 2022): the rounding is done on the encoding (round-to-nearest-even
    compares against the (n+1)-bit posit between the neighbours); a nonzero value never rounds
    to 0 or NaR: values beyond maxpos give maxpos and below minpos give minpos, in every mode.
    Integers: rounded to an integer in the given mode, then ``wrap`` (two's complement modulo
    ``2**bits``) or ``saturate`` (clamp to the range).
    """
    f = get_format(fmt)
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    s64, e64 = _reduce(sig, exp)
    mag, neg = signed_to_mag(s64)
    e64 = np.clip(e64, -(1 << 40), 1 << 40)  # far beyond every format's range; avoids wrap
    if f.kind == "posit":
        code = _posit.round_mag(f, np.where(mag == 0, _ONE, mag), e64, neg, rounding)
        code = np.where(mag == 0, np.uint64(0), code)
    elif f.kind == "int":
        code = _round_int(f, mag, e64, neg, rounding, pol)
    else:
        code = _round_float(f, mag, e64, neg, rounding, pol)
        if negative_zero is not None:
            nz = np.broadcast_to(np.asarray(negative_zero, dtype=bool), code.shape)
            code = np.where(nz & (mag == 0), code | np.uint64(1 << (f.bits - 1)), code)
    return code.astype(f.storage_dtype)


def _reduce(sig: ArrayLike, exp: ArrayLike) -> tuple[I64, I64]:
    """Broadcast ``sig``/``exp``; reduce wide Python-int significands to 60 bits + sticky."""
    s = np.asarray(sig)
    if s.dtype == object:
        s, e = np.broadcast_arrays(s, np.asarray(exp, dtype=object))
        out_s = np.empty(s.shape, dtype=np.int64)
        out_e = np.empty(s.shape, dtype=np.int64)
        for i, (v, x) in enumerate(zip(s.flat, e.flat, strict=True)):
            v, x = int(v), int(x)
            t = abs(v).bit_length() - _SIG_BITS
            if t > 0:
                kept = v >> t  # floor, so the dropped part is in [0, 2**t)
                sticky = (v - (kept << t)) != 0
                v, x = 2 * kept + sticky, x + t - 1
            out_s.flat[i], out_e.flat[i] = v, x
        return out_s, out_e
    if s.dtype.kind not in "iu" or s.dtype == np.uint64:
        if s.dtype == np.uint64 and (s < np.uint64(1 << 63)).all():
            s = s.astype(np.int64)
        else:
            raise FormatError(f"sig must be an int64 or object (Python int) array, not {s.dtype}")
    e = np.asarray(exp)
    if e.dtype.kind not in "iu":
        raise FormatError(f"exp must be an integer array, not {e.dtype}")
    s, e = np.broadcast_arrays(s.astype(np.int64), e.astype(np.int64))
    return s, e


def _round_float(f: NumberFormat, mag: U64, exp: I64, neg: NDArray[np.bool_],
                 rounding: str, pol: str) -> U64:
    m, emin, emax = f.man_bits, f.emin, f.emax
    L = bitlen(mag)
    E = exp + L - 1
    Eh = np.clip(E, emin, emax + 1)
    kept, rem, half = shift_right(mag, Eh - m - exp)
    r = kept + increment(kept, rem, half, neg, rounding)
    code = ((Eh - emin).astype(np.uint64) << np.uint64(m)) + r
    ovf = ((E > emax) | (code > np.uint64(f.max_code))) & (mag != 0)
    code = np.where(mag == 0, np.uint64(0), code)
    if ovf.any():
        maxf = np.uint64(f.max_code)
        if pol == "saturate":
            big = np.full(code.shape, maxf)
        else:
            inf = f.inf_code if pol == "to_inf" else f.nan_code
            assert inf is not None  # resolve_overflow checked the policy
            if rounding in ("near_even", "near_maxMag"):
                away = np.ones(code.shape, dtype=bool)
            elif rounding == "minMag":
                away = np.zeros(code.shape, dtype=bool)
            else:
                away = neg if rounding == "min" else ~neg
            big = np.where(away, np.uint64(inf), maxf)
        code = np.where(ovf, big, code)
    return np.where(neg, code | np.uint64(1 << (f.bits - 1)), code)


def _round_int(f: NumberFormat, mag: U64, exp: I64, neg: NDArray[np.bool_],
               rounding: str, pol: str) -> U64:
    L = bitlen(mag)
    kept, rem, half = shift_right(mag, np.maximum(-exp, 0))
    r = kept + increment(kept, rem, half, neg, rounding)
    # Left shifts (exp > 0): exact when the result fits in 63 bits; else only low bits matter.
    big = (exp > 0) & (L + exp > 63) & (mag != 0)
    r = np.where(exp > 0, mag << np.clip(exp, 0, 63).astype(np.uint64), r)
    r = np.where(big & (exp >= 64), np.uint64(0), r)
    if pol == "wrap":
        val = np.where(neg, (~r) + _ONE, r)
        return val & np.uint64(f.mask)
    hi = (1 << (f.bits - 1)) - 1 if f.signed else f.mask
    lo = (1 << (f.bits - 1)) if f.signed else 0  # magnitude of the most negative value
    ovf_pos = ~neg & (big | (r > np.uint64(hi)))
    ovf_neg = neg & (big | (r > np.uint64(lo)))
    r = np.where(ovf_pos, np.uint64(hi), np.where(ovf_neg, np.uint64(lo), r))
    return np.where(neg & (r != 0), (np.uint64(1 << f.bits) - r) & np.uint64(f.mask),
                    r) if f.signed else np.where(neg, np.uint64(0), r)
