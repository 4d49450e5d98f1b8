"""Group-wise integer weight quantization as used by GPTQ / AWQ (round-to-nearest variant).

Weights ``W`` (K x N) are cut into groups of ``group_size`` consecutive rows along K (the
reduction axis); each (group, column) pair has one scale ``s`` (stored in ``scale_fmt``, e.g.
float16) and, for asymmetric quantization, one integer zero point ``z``. The real weight is
``s * (q - z)`` (``z = 0`` when symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models.codec import decode, encode
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["GroupQuant", "group_quantize", "group_dequantize"]


@dataclass(frozen=True)
class GroupQuant:
    """Group-quantized weights.

    Attributes
    ----------
    q
        Bit patterns of ``w_fmt``, shape (K, N).
    scales
        Bit patterns of ``scale_fmt``, shape (ceil(K / group_size), N).
    zeros
        Zero points as int64, shape of ``scales`` (all 0 when symmetric).
    w_fmt, scale_fmt
        Formats of ``q`` and ``scales``.
    group_size
        Rows of K per group (the last group may be shorter).
    """

    q: NDArray[np.unsignedinteger]
    scales: NDArray[np.unsignedinteger]
    zeros: NDArray[np.int64]
    w_fmt: NumberFormat
    scale_fmt: NumberFormat
    group_size: int

    @property
    def symmetric(self) -> bool:
        return bool(self.w_fmt.signed)

    def q_values(self) -> NDArray[np.int64]:
        """The integer values of ``q`` (two's complement decoded for signed formats)."""
        v = self.q.astype(np.int64)
        if self.w_fmt.signed:
            v = np.where(v >= 1 << (self.w_fmt.bits - 1), v - (1 << self.w_fmt.bits), v)
        return v

    def group_of_row(self) -> NDArray[np.intp]:
        """Group index of every row of K."""
        return np.arange(self.q.shape[0]) // self.group_size


def group_quantize(w: ArrayLike, w_fmt: NumberFormat | str = "int4", group_size: int = 128,
                   scale_fmt: NumberFormat | str = "float16") -> GroupQuant:
    """Quantize weights (K x N, float) per group of ``group_size`` rows along K.

    Parameters
    ----------
    w
        Real weights, shape (K, N).
    w_fmt
        Signed ``intB`` for symmetric, unsigned ``uintB`` for asymmetric (zero point)
        quantization.
    group_size
        Rows per group (GPTQ/AWQ use 128; use K for per-channel).
    scale_fmt
        Float format the scales are stored in.

    Notes
    -----
    Symmetric (``intB``): ``s = amax / (2**(B-1) - 1)`` with ``amax = max |w|`` over the group,
    ``q = clamp(rint(w / s), -2**(B-1), 2**(B-1) - 1)``.
    Asymmetric (``uintB``): with ``lo = min(min w, 0)``, ``hi = max(max w, 0)`` (GPTQ's range),
    ``s = (hi - lo) / (2**B - 1)``, ``z = clamp(rint(-lo / s), 0, 2**B - 1)``,
    ``q = clamp(rint(w / s) + z, 0, 2**B - 1)``.
    ``s`` is computed in float64 and rounded to nearest even into ``scale_fmt``; ``q`` and ``z``
    use that *stored* scale, with ``w / s`` an IEEE float64 division and ``rint`` rounding half
    to even. A group whose range is 0 gets ``s = 1``; a scale that underflows to 0 is raised to
    the smallest positive value of ``scale_fmt``; one that overflows raises ``FormatError``.
    """
    f = get_format(w_fmt)
    sf = get_format(scale_fmt)
    if f.kind != "int":
        raise FormatError(f"group quantization needs an integer w_fmt, not {f.name}")
    if sf.kind == "int":
        raise FormatError(f"scale_fmt must be a float or posit format, not {sf.name}")
    if not isinstance(group_size, int) or group_size < 1:
        raise FormatError(f"group_size must be a positive integer, not {group_size!r}")
    arr = np.asarray(w)
    if arr.ndim != 2 or arr.dtype.kind != "f":
        raise FormatError(f"w must be a 2-D float array (K, N), not {arr.dtype} {arr.shape}")
    wv = arr.astype(np.float64)
    if not np.isfinite(wv).all():
        raise FormatError("w contains NaN or infinity")
    k, n = wv.shape
    groups = -(-k // group_size)
    pad = groups * group_size - k
    wp = np.concatenate([wv, np.zeros((pad, n))]) if pad else wv  # zeros never widen a range
    wg = wp.reshape(groups, group_size, n)
    if f.signed:
        qmin, qmax = -(1 << (f.bits - 1)), (1 << (f.bits - 1)) - 1
        span = np.abs(wg).max(axis=1) / qmax
        lo = np.zeros((groups, n))
    else:
        qmin, qmax = 0, f.mask
        lo = np.minimum(wg.min(axis=1), 0.0)
        span = (np.maximum(wg.max(axis=1), 0.0) - lo) / qmax
    span = np.where(span == 0, 1.0, span)
    s_bits = encode(sf, span, "near_even")
    s = decode(sf, s_bits)
    if not np.isfinite(s).all():
        raise FormatError(f"a group scale overflows {sf.name}: {span[~np.isfinite(s)].flat[0]}")
    tiny = s == 0
    if tiny.any():
        s_bits = np.where(tiny, np.asarray(1, dtype=s_bits.dtype), s_bits)  # smallest positive
        s = decode(sf, s_bits)
    z = np.zeros((groups, n), dtype=np.int64)
    if not f.signed:
        z = np.clip(np.rint(-lo / s), 0, qmax).astype(np.int64)
    srow = np.repeat(s, group_size, axis=0)[:k]
    zrow = np.repeat(z, group_size, axis=0)[:k]
    q = np.clip(np.rint(wv / srow) + zrow, qmin, qmax).astype(np.int64)
    q_bits = (q & f.mask).astype(f.storage_dtype)
    return GroupQuant(q_bits, s_bits, z, f, sf, group_size)


def group_dequantize(gq: GroupQuant) -> NDArray[np.float64]:
    """Exact float64 weights ``s * (q - z)`` (exact: a <= 16-bit scale times a small integer)."""
    g = gq.group_of_row()
    s = decode(gq.scale_fmt, gq.scales)[g]
    return s * (gq.q_values() - gq.zeros[g])
