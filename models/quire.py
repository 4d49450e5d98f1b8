"""The quire: an exact fixed-point accumulator of products ("accumulate, then round once").

For posit(n, es) this is the Posit Standard 2022 quire generalised to any es: a two's
complement fixed-point number whose LSB weighs ``minpos**2`` and whose integer part holds
``maxpos**2`` plus ``QUIRE_CARRY_BITS`` carry-guard bits, i.e.
``nbits = 1 + QUIRE_CARRY_BITS + 4 * (n - 2) * 2**es`` (128 bits for posit8_es2, 256 for
posit16_es2, as in the standard). The model holds the contents as Python ints (object arrays),
so it never overflows; :attr:`Quire.nbits` states the width hardware needs for up to
``2**QUIRE_CARRY_BITS`` maximal products. The same accumulator works for float and integer
formats (LSB = square of the smallest subnormal / 1), which is what MAC units with a wide
fixed-point accumulator compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models.exact import decode_exact, round_scaled
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["Quire", "quire_madd", "quire_to_posit", "quire_dot", "QUIRE_CARRY_BITS"]

#: Carry-guard bits of the standard's quire (31 plus the sign bit).
QUIRE_CARRY_BITS = 31


def _lsb_exp(f: NumberFormat) -> int:
    """Exponent of the quire's LSB: the smallest exponent a product's ``sig * 2**exp`` has."""
    if f.kind == "posit":
        return -2 * ((f.bits - 2) << f.es)
    if f.kind == "float":
        return 2 * (f.emin - f.man_bits)
    return 0


def _msb_exp(f: NumberFormat) -> int:
    """Exponent of the largest |product| (exclusive bound's exponent)."""
    if f.kind == "posit":
        return 2 * ((f.bits - 2) << f.es)
    if f.kind == "float":
        return 2 * (f.emax + 1)
    return 2 * (f.bits - (1 if f.signed else 0))


@dataclass(frozen=True)
class Quire:
    """Exact accumulators (one per element of ``shape``) of products of ``fmt`` values.

    Attributes
    ----------
    fmt
        Format of the multiplied operands.
    acc
        Object array of Python ints: the value of each quire is ``acc * 2**lsb_exp``.
    nar
        Boolean array: true where a NaR/NaN (or an infinity, for floats) was accumulated; the
        quire then reads out as NaR/NaN until cleared.
    """

    fmt: NumberFormat
    acc: NDArray[np.object_]
    nar: NDArray[np.bool_]

    @classmethod
    def zeros(cls, fmt: NumberFormat | str, shape: int | tuple[int, ...] = ()) -> Quire:
        """A quire (array) holding exact zero."""
        f = get_format(fmt)
        acc = np.zeros(shape, dtype=object)
        acc[...] = 0
        return cls(f, acc, np.zeros(shape, dtype=bool))

    @property
    def lsb_exp(self) -> int:
        """Exponent of the least significant quire bit (``minpos**2`` for posits)."""
        return _lsb_exp(self.fmt)

    @property
    def nbits(self) -> int:
        """Hardware width: sign + carry guard + integer and fraction bits of all products."""
        return 1 + QUIRE_CARRY_BITS + _msb_exp(self.fmt) - _lsb_exp(self.fmt)

    def value_fraction(self, index: tuple[int, ...] = ()) -> object:
        """The exact contents of one quire as a ``fractions.Fraction`` (for inspection)."""
        from fractions import Fraction

        return Fraction(int(self.acc[index])) * Fraction(2) ** self.lsb_exp


def quire_madd(q: Quire, a: ArrayLike, b: ArrayLike, *, subtract: bool = False,
               axis: int | None = None) -> Quire:
    """Return ``q + a*b`` (or ``q - a*b``), exactly, as a new :class:`Quire`.

    Parameters
    ----------
    q
        The accumulator(s).
    a, b
        Bit patterns of ``q.fmt``, broadcast against each other.
    subtract
        Accumulate ``-a*b`` (the standard's ``qMulSub``).
    axis
        If given, the products are summed along this axis of the broadcast ``a*b`` first (a dot
        product); the remaining shape must broadcast to ``q``'s shape.

    Notes
    -----
    Exact: no rounding happens. A NaR operand (posits) or NaN / infinity operand (floats) makes
    the quire NaR (read out as NaR/NaN). Accumulation order does not matter.
    """
    f = q.fmt
    sa, ea, pa = decode_exact(f, a)
    sb, eb, pb = decode_exact(f, b)
    sa, ea, pa, sb, eb, pb = np.broadcast_arrays(sa, ea, pa, sb, eb, pb)
    shift = ea + eb - _lsb_exp(f)
    if (shift < 0).any():
        raise FormatError(f"{f.name}: product below the quire LSB (internal error)")
    prod = (sa * sb).astype(object) * (np.ones(shift.shape, dtype=object) << shift.astype(object))
    bad = (pa != 0) | (pb != 0)
    if axis is not None:
        prod = prod.sum(axis=axis)
        bad = bad.any(axis=axis)
    acc = q.acc - prod if subtract else q.acc + prod
    return Quire(f, np.asarray(acc, dtype=object), np.asarray(q.nar | bad))


def quire_to_posit(q: Quire, fmt: NumberFormat | str | None = None,
                   rounding: str = "near_even") -> NDArray[np.unsignedinteger]:
    """Round the quire contents once into ``fmt`` (default ``q.fmt``).

    Notes
    -----
    Posit targets follow the standard: an exact zero reads 0, NaR reads NaR, any nonzero value
    reads at least minpos and at most maxpos in magnitude. Float targets get NaN for a NaR
    quire; integer targets raise ``FormatError`` for it.
    """
    f = get_format(fmt) if fmt is not None else q.fmt
    code = round_scaled(f, q.acc, _lsb_exp(q.fmt), rounding).astype(np.uint64)
    if q.nar.any():
        if f.nan_code is None:
            raise FormatError(f"{f.name}: cannot represent a NaR quire")
        code = np.where(q.nar, np.uint64(f.nan_code), code)
    return code.astype(f.storage_dtype)


def quire_dot(fmt: NumberFormat | str, a: ArrayLike, b: ArrayLike, axis: int = -1,
              out_fmt: NumberFormat | str | None = None,
              rounding: str = "near_even") -> NDArray[np.unsignedinteger]:
    """Exact dot product along ``axis``, rounded once into ``out_fmt`` (default ``fmt``)."""
    f = get_format(fmt)
    sa = np.broadcast_shapes(np.shape(a), np.shape(b))
    rest = tuple(s for i, s in enumerate(sa) if i != (axis % len(sa)))
    q = quire_madd(Quire.zeros(f, rest), a, b, axis=axis)
    return quire_to_posit(q, out_fmt, rounding)
