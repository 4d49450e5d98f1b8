"""Correctly rounded ``mul``, ``add``, ``fma`` and ``convert`` on bit patterns of any format.

Each operation computes the exact result as ``sig * 2**exp`` (int64; sums keep a sticky bit
that provably cannot change the rounding) and rounds it once with
:func:`~mixforge.models.exact.round_scaled`. IEEE 754 rules for special values and signed
zeros; Posit Standard 2022 rules for NaR; two's complement wrap/saturate for integers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models._common import (
    I64,
    apply_specials,
    as_bits,
    bitlen,
    check_rounding,
    resolve_overflow,
)
from mixforge.models._fastpath import posit_encode_f64, posit_table_ok
from mixforge.models.codec import decode
from mixforge.models.exact import NAN, NEG_INF, POS_INF, decode_exact, round_scaled
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["mul", "add", "fma", "convert", "exact_add", "add_product", "product_special"]

_NORM = 58  # sums normalise both operands to a 58-bit significand (see exact_add)
_CHUNK = 1 << 16  # elements per block: keeps the ~40 temporaries of one block in cache
Bits = NDArray[np.unsignedinteger]


def exact_add(s1: I64, e1: I64, s2: I64, e2: I64) -> tuple[I64, I64]:
    """``s1*2**e1 + s2*2**e2`` as int64 ``(sig, exp)``, exact or with a harmless sticky bit.

    Inputs need ``|s| < 2**58``. When the exponents differ by more than 3 after normalisation,
    the smaller addend is cut below bit 0 of a 62-bit window and replaced by a sticky 1: the
    result then has >= 60 significant bits, so every rounding boundary of a <= 32-bit format is
    a multiple of far more than the two units the sticky bit can move the value.
    """
    s1, e1, s2, e2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (s1, e1, s2, e2)))
    l1, l2 = bitlen(np.abs(s1).astype(np.uint64)), bitlen(np.abs(s2).astype(np.uint64))
    if (l1 > _NORM).any() or (l2 > _NORM).any():
        raise FormatError("exact_add: significands must be below 2**58")
    n1, n2 = s1 << (_NORM - l1), s2 << (_NORM - l2)
    x1, x2 = e1 - (_NORM - l1), e2 - (_NORM - l2)
    swap = x1 < x2
    big, bx = np.where(swap, n2, n1), np.where(swap, x2, x1)
    small, sx = np.where(swap, n1, n2), np.where(swap, x1, x2)
    d = bx - sx
    near = d <= 3
    close = (big << np.clip(d, 0, 3)) + small  # exact: < 2**62
    t = np.clip(d - 3, 0, 62)
    cut = small >> t  # floor; the dropped part is in [0, 2**t)
    sticky = (small - (cut << t)) != 0
    far = 2 * ((big << 3) + cut) + sticky
    sig = np.where(near, close, far)
    exp = np.where(near, sx, bx - 4)
    # zero operands: the other one is the exact sum
    sig = np.where(s1 == 0, s2, np.where(s2 == 0, s1, sig))
    exp = np.where(s1 == 0, e2, np.where(s2 == 0, e1, exp))
    return sig.astype(np.int64), exp.astype(np.int64)


def _signbit(f: NumberFormat, u: NDArray[np.uint64]) -> NDArray[np.bool_]:
    return ((u >> np.uint64(f.bits - 1)) & np.uint64(1)) == 1


def _chunked(f: NumberFormat, kernel: Callable[..., Bits], *ops: ArrayLike) -> Bits:
    arrs = np.broadcast_arrays(*(as_bits(f, o) for o in ops))
    shape = arrs[0].shape
    flat = [a.reshape(-1) for a in arrs]
    out = np.empty(flat[0].size, dtype=f.storage_dtype)
    for i in range(0, max(out.size, 1), _CHUNK):
        if out.size:
            out[i:i + _CHUNK] = kernel(*(a[i:i + _CHUNK] for a in flat))
    return out.reshape(shape)


def _table_op(f: NumberFormat, name: str, rounding: str, pol: str, a: ArrayLike,
              b: ArrayLike) -> Bits | None:
    """Exhaustive-table lookup for binary ops on formats of <= 8 bits."""
    if f.bits > 8:
        return None
    ua, ub = np.broadcast_arrays(as_bits(f, a), as_bits(f, b))
    tab = _binary_table(f, name, rounding, pol)
    return tab[(ua.astype(np.intp) << f.bits) | ub.astype(np.intp)]


@lru_cache(maxsize=128)
def _binary_table(f: NumberFormat, name: str, rounding: str, pol: str) -> Bits:
    ab = np.arange(1 << (2 * f.bits), dtype=np.uint64)
    a, b = ab >> np.uint64(f.bits), ab & np.uint64(f.mask)
    kern = _mul_kernel if name == "mul" else _add_kernel
    tab = kern(f, a, b, rounding, pol)
    tab.setflags(write=False)
    return tab


def mul(fmt: NumberFormat | str, a: ArrayLike, b: ArrayLike, rounding: str = "near_even",
        overflow: str | None = None) -> Bits:
    """Correctly rounded product ``a * b`` of bit patterns of ``fmt``.

    Parameters
    ----------
    fmt
        Format of both operands and of the result.
    a, b
        Bit patterns (broadcast against each other).
    rounding, overflow
        As for :func:`~mixforge.models.exact.round_scaled`.

    Notes
    -----
    Floats: NaN if an operand is NaN or for ``0 * inf``; inf times nonzero is inf; the sign of a
    zero or infinite result is the XOR of the operand signs. Posits: NaR if an operand is NaR;
    a nonzero product never rounds to 0. Integers: exact product, then wrap or saturate.
    """
    f = get_format(fmt)
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    tab = _table_op(f, "mul", rounding, pol, a, b)
    if tab is not None:
        return tab
    if posit_table_ok(f):
        # decoded posits of <= 16 bits have <= 14-bit significands: the float64 product is exact
        va, vb = decode(f, a), decode(f, b)
        return posit_encode_f64(f, va * vb, rounding)
    return _chunked(f, lambda x, y: _mul_kernel(f, x, y, rounding, pol), a, b)


def _mul_kernel(f: NumberFormat, a: NDArray[np.uint64], b: NDArray[np.uint64], rounding: str,
                pol: str) -> Bits:
    sa, ea, pa = decode_exact(f, a)
    sb, eb, pb = decode_exact(f, b)
    neg = _signbit(f, a) ^ _signbit(f, b)
    code = round_scaled(f, sa * sb, ea + eb, rounding, pol,
                        negative_zero=neg if f.kind == "float" else None)
    sp = (pa != 0) | (pb != 0)
    if not sp.any():
        return code
    nan = (pa == NAN) | (pb == NAN)
    inf_a, inf_b = pa >= POS_INF, pb >= POS_INF
    nan |= (inf_a & (sb == 0) & (pb == 0)) | (inf_b & (sa == 0) & (pa == 0))
    special = np.where(nan, NAN, np.where(inf_a | inf_b, np.where(neg, NEG_INF, POS_INF), 0))
    return _finish(f, code, special.astype(np.uint8), neg, pol)


def _finish(f: NumberFormat, code: Bits, special: NDArray[np.uint8], neg: NDArray[np.bool_],
            pol: str) -> Bits:
    # Results of operations: inf stays inf in formats that have it (IEEE: exact, no overflow).
    if f.kind == "float" and f.inf_code is not None and pol == "saturate":
        pol = "to_inf"
    out = apply_specials(f, code.astype(np.uint64), special, neg & (special != NAN), pol)
    return out.astype(f.storage_dtype)


def add(fmt: NumberFormat | str, a: ArrayLike, b: ArrayLike, rounding: str = "near_even",
        overflow: str | None = None) -> Bits:
    """Correctly rounded sum ``a + b`` of bit patterns of ``fmt``.

    Parameters
    ----------
    fmt
        Format of both operands and of the result.
    a, b
        Bit patterns (broadcast against each other).
    rounding, overflow
        As for :func:`~mixforge.models.exact.round_scaled`.

    Notes
    -----
    Floats: NaN for a NaN operand or ``inf + -inf``; an exact zero sum is ``+0`` (``-0`` in
    rounding mode ``min``) unless both operands are zeros of the same sign, which keeps that
    sign. Posits: NaR propagates; ``x + -x == 0``. Integers: exact sum, then wrap/saturate.
    Results are computed exactly and rounded once.
    """
    f = get_format(fmt)
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    tab = _table_op(f, "add", rounding, pol, a, b)
    if tab is not None:
        return tab
    return _chunked(f, lambda x, y: _add_kernel(f, x, y, rounding, pol), a, b)


def _zero_sign(rounding: str, z1: NDArray[np.bool_], n1: NDArray[np.bool_],
               z2: NDArray[np.bool_], n2: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """IEEE sign of an exact zero sum of two addends (zero flags z, sign flags n)."""
    both_neg_zero = z1 & z2 & n1 & n2
    both_pos_zero = z1 & z2 & ~n1 & ~n2
    if rounding == "min":
        return ~both_pos_zero
    return both_neg_zero


def _add_kernel(f: NumberFormat, a: NDArray[np.uint64], b: NDArray[np.uint64], rounding: str,
                pol: str) -> Bits:
    sa, ea, pa = decode_exact(f, a)
    sb, eb, pb = decode_exact(f, b)
    na, nb = _signbit(f, a), _signbit(f, b)
    sig, exp = exact_add(sa, ea, sb, eb)
    nz = _zero_sign(rounding, sa == 0, na, sb == 0, nb) if f.kind == "float" else None
    code = round_scaled(f, sig, exp, rounding, pol, negative_zero=nz)
    if not ((pa != 0) | (pb != 0)).any():
        return code
    return _sum_specials(f, code, pa, pb, pol)


def _sum_specials(f: NumberFormat, code: Bits, p1: NDArray[np.uint8], p2: NDArray[np.uint8],
                  pol: str) -> Bits:
    """Special results of ``x1 + x2`` given the special classes of the two addends."""
    nan = (p1 == NAN) | (p2 == NAN) | ((p1 >= POS_INF) & (p2 >= POS_INF) & (p1 != p2))
    inf = np.where(p1 >= POS_INF, p1, np.where(p2 >= POS_INF, p2, 0))
    special = np.where(nan, NAN, inf).astype(np.uint8)
    return _finish(f, code, special, special == NEG_INF, pol)


def fma(fmt: NumberFormat | str, a: ArrayLike, b: ArrayLike, c: ArrayLike,
        rounding: str = "near_even", overflow: str | None = None) -> Bits:
    """Fused multiply-add ``a * b + c`` with a single rounding.

    Parameters
    ----------
    fmt
        Format of the three operands and of the result.
    a, b, c
        Bit patterns (broadcast against each other).
    rounding, overflow
        As for :func:`~mixforge.models.exact.round_scaled`.

    Notes
    -----
    The product is exact; the sum follows :func:`add` (zero signs, ``inf - inf``). Floats: NaN
    for any NaN operand, ``0 * inf`` (even when ``c`` is NaN) and ``inf*x + -inf``. Posits: NaR if
    any operand is NaR.
    """
    f = get_format(fmt)
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    return _chunked(f, lambda x, y, z: _fma_kernel(f, x, y, z, rounding, pol), a, b, c)


def _fma_kernel(f: NumberFormat, a: NDArray[np.uint64], b: NDArray[np.uint64],
                c: NDArray[np.uint64], rounding: str, pol: str) -> Bits:
    sa, ea, pa = decode_exact(f, a)
    sb, eb, pb = decode_exact(f, b)
    pp = product_special(sa, pa, sb, pb, _signbit(f, a) ^ _signbit(f, b))
    return add_product(f, sa * sb, ea + eb, pp, _signbit(f, a) ^ _signbit(f, b), c, rounding,
                       pol)


def product_special(sa: I64, pa: NDArray[np.uint8], sb: I64, pb: NDArray[np.uint8],
                    neg: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Special class (0 finite, 1 NaN, 2 +inf, 3 -inf) of the product of two decoded operands.

    IEEE: NaN if either is NaN or for ``0 * inf``; else inf with the sign ``neg`` if either is
    infinite. Works across formats (each operand decoded by :func:`decode_exact`).
    """
    inf_a, inf_b = pa >= POS_INF, pb >= POS_INF
    nan = (pa == NAN) | (pb == NAN)
    nan |= (inf_a & (sb == 0) & (pb == 0)) | (inf_b & (sa == 0) & (pa == 0))
    pinf = np.where(neg, NEG_INF, POS_INF)
    return np.where(nan, NAN, np.where(inf_a | inf_b, pinf, 0)).astype(np.uint8)


def add_product(f: NumberFormat, sp: I64, ep: I64, pp: NDArray[np.uint8],
                pneg: NDArray[np.bool_], c: ArrayLike, rounding: str = "near_even",
                overflow: str | None = None) -> Bits:
    """Round ``p + c`` once into ``f``, for an exact product ``p = sp * 2**ep`` and bits ``c``.

    Parameters
    ----------
    f
        Format of ``c`` and of the result.
    sp, ep
        The exact product (``|sp| < 2**58``), e.g. of two operands of other formats.
    pp
        Special class of the product (see :func:`product_special`).
    pneg
        Sign of the product (gives the sign of a zero product).
    c
        Addend bit patterns of ``f``.

    Notes
    -----
    The building block of :func:`fma` and of sequential GEMM accumulation; zero signs and
    ``inf - inf`` as in :func:`add`.
    """
    check_rounding(rounding)
    pol = resolve_overflow(f, overflow)
    uc = as_bits(f, c)
    sc, ec, pc = decode_exact(f, uc)
    nc = _signbit(f, uc)
    sig, exp = exact_add(sp, ep, sc, ec)
    nz = _zero_sign(rounding, sp == 0, pneg, sc == 0, nc) if f.kind == "float" else None
    code = round_scaled(f, sig, exp, rounding, pol, negative_zero=nz)
    if not ((pp != 0) | (pc != 0)).any():
        return code
    return _sum_specials(f, code, np.broadcast_to(pp, code.shape), pc, pol)


def convert(bits: ArrayLike, src: NumberFormat | str, dst: NumberFormat | str,
            rounding: str = "near_even", overflow: str | None = None) -> Bits:
    """Convert bit patterns of ``src`` into ``dst``, rounding once.

    Parameters
    ----------
    bits
        Bit patterns of ``src``.
    src, dst
        Source and destination formats (any pair: int, float, posit).
    rounding, overflow
        As for :func:`~mixforge.models.exact.round_scaled` (``overflow`` is ``dst``'s policy).

    Notes
    -----
    The exact source value is rounded into ``dst`` as by ``dst.encode``: ``-0`` stays ``-0``
    for float targets; NaN keeps its sign (NaR becomes a positive NaN; a NaN into a posit is
    NaR); infinities follow the overflow policy (see :func:`~mixforge.models.codec.encode`).
    NaN/inf into an integer, or NaN into a float without NaN, raise ``FormatError``.
    """
    fs, fd = get_format(src), get_format(dst)
    check_rounding(rounding)
    pol = resolve_overflow(fd, overflow)
    u = as_bits(fs, bits)
    sig, exp, special = decode_exact(fs, u)
    neg = _signbit(fs, u) if fs.kind == "float" else (sig < 0)
    code = round_scaled(fd, sig, exp, rounding, pol,
                        negative_zero=neg if fd.kind == "float" else None)
    if special.any():
        code = apply_specials(fd, code.astype(np.uint64), special, neg, pol).astype(code.dtype)
    return code
