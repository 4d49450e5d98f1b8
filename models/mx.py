"""OCP Microscaling (MX) v1.0 block formats: MXFP8, MXFP6, MXFP4 and MXINT8.

A block of ``block_size`` (32 in the spec) consecutive elements shares one E8M0 scale
``X = 2**shared_exp`` stored as the byte ``shared_exp + 127`` (``0xFF`` = NaN). Following the
spec's conversion algorithm (section 6.3)::

    shared_exp = floor(log2(max_i |V_i|)) - emax_elem
    P_i = quantize_to_element_format(V_i / X)     # round to nearest even, saturating

``emax_elem`` is the exponent of the element format's largest normal (8 for E4M3, 15 for E5M2,
2 for E2M3 and E2M1, 4 for E3M2, 0 for INT8).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models.codec import decode, encode
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["mx_quantize", "mx_dequantize", "MX_ELEMENTS", "E8M0_NAN", "mx_emax"]

#: Element formats of the OCP MX v1.0 concrete formats (MXFP8 x2, MXFP6 x2, MXFP4, MXINT8).
MX_ELEMENTS = ("float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "float6_e3m2fn",
               "float4_e2m1fn", "int8")
#: E8M0 encoding of a NaN scale.
E8M0_NAN = 0xFF
#: MXINT8 elements are two's complement integers with an implicit scale of 2**-6.
_INT8_FRAC = 6


def _element(fmt: NumberFormat | str) -> NumberFormat:
    f = get_format(fmt)
    if f.name not in MX_ELEMENTS:
        raise FormatError(f"{f.name} is not an MX element format (known: {', '.join(MX_ELEMENTS)})")
    return f


def mx_emax(fmt: NumberFormat | str) -> int:
    """``emax_elem``: exponent of the largest normal of an MX element format."""
    f = _element(fmt)
    return 0 if f.kind == "int" else f.emax


def _blocks(x: NDArray, block_size: int, axis: int) -> tuple[NDArray, int]:
    """Move ``axis`` last, zero-pad it to whole blocks, reshape to (..., nblocks, block_size)."""
    if not isinstance(block_size, int) or block_size < 1:
        raise FormatError(f"block_size must be a positive integer, not {block_size!r}")
    x = np.moveaxis(x, axis, -1)
    length = x.shape[-1]
    pad = (-length) % block_size
    if pad:
        x = np.concatenate([x, np.zeros((*x.shape[:-1], pad), dtype=x.dtype)], axis=-1)
    return x.reshape(*x.shape[:-1], -1, block_size), length


def _unblocks(y: NDArray, length: int, axis: int) -> NDArray:
    y = y.reshape(*y.shape[:-2], -1)[..., :length]
    return np.moveaxis(y, -1, axis)


def mx_quantize(x: ArrayLike, elem_fmt: NumberFormat | str = "float8_e4m3fn",
                block_size: int = 32, axis: int = -1
                ) -> tuple[NDArray[np.unsignedinteger], NDArray[np.uint8]]:
    """Quantize real values to an MX format.

    Parameters
    ----------
    x
        float32/float64 values; blocks run along ``axis``.
    elem_fmt
        One of :data:`MX_ELEMENTS` (``"int8"`` means MXINT8).
    block_size
        Elements per shared scale (32 in OCP MX v1.0). A trailing partial block is allowed and
        scaled by its own maximum.
    axis
        Axis along which blocks are formed.

    Returns
    -------
    elements : element bit patterns, shape of ``x``
    scales : uint8 E8M0 codes, shape of ``x`` with ``axis`` reduced to ``ceil(len/block_size)``

    Notes
    -----
    ``shared_exp`` is clamped to E8M0's range ``[-127, 127]``; elements then saturate to the
    element format's largest magnitude (``V_i / X`` is rounded to nearest even and clamped).
    A block containing NaN or an infinity gets the NaN scale ``0xFF`` and zero elements. An
    all-zero block gets scale code 0 (``2**-127``) and zero elements (keeping signs of ``-0``).
    MXINT8 elements are ``round_half_even(V_i / X * 2**6)`` clamped to the symmetric range
    ``[-127, 127]`` (the spec's max normal ``1.984375``).
    """
    f = _element(elem_fmt)
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise FormatError(f"mx_quantize expects float values, not dtype {arr.dtype}")
    # float32 input stays float32 (half the memory traffic); anything else goes to float64
    work = arr if arr.dtype == np.float32 else arr.astype(np.float64)
    blk, length = _blocks(work, block_size, axis)
    finite = np.isfinite(blk)
    bad = ~finite.all(axis=-1)
    amax = np.where(finite, np.abs(blk), 0).max(axis=-1)
    # floor(log2(amax)) exactly: frexp gives amax = m * 2**e with m in [0.5, 1).
    shared = np.frexp(amax)[1].astype(np.int64) - 1 - mx_emax(f)
    shared = np.where(amax == 0, -127, np.clip(shared, -127, 127))
    v = np.where(finite & ~bad[..., None], blk, 0)
    # V_i / X (times 2**6 for MXINT8) by ldexp: exact, because |V_i / X| < 2**(emax_elem + 1)
    # cannot overflow, and a result small enough to be a float32/float64 subnormal is far below
    # half the element format's smallest subnormal, so it rounds to (signed) zero either way.
    if f.kind == "int":
        scaled = np.ldexp(v, (_INT8_FRAC - shared)[..., None].astype(np.int32))
        # rint rounds half to even exactly; then the symmetric clamp [-127, 127]
        q = np.clip(np.rint(scaled), -127, 127).astype(np.int8).view(np.uint8)
    else:
        scaled = np.ldexp(v, (-shared)[..., None].astype(np.int32))
        q = encode(f, scaled, "near_even", "saturate")
    scales = np.where(bad, E8M0_NAN, shared + 127).astype(np.uint8)
    return _unblocks(q, length, axis).astype(f.storage_dtype), np.moveaxis(scales, -1, axis)


def mx_dequantize(elements: ArrayLike, scales: ArrayLike,
                  elem_fmt: NumberFormat | str = "float8_e4m3fn", block_size: int = 32,
                  axis: int = -1) -> NDArray[np.float64]:
    """Exact float64 values ``X * P_i`` of MX data (NaN where the scale is NaN).

    ``elements`` and ``scales`` are as returned by :func:`mx_quantize`; the result is exact
    (an element has at most 8 significant bits and ``X`` is a power of two in float64 range).
    """
    f = _element(elem_fmt)
    e = np.asarray(elements)
    s = np.asarray(scales)
    if s.dtype != np.uint8:
        raise FormatError(f"MX scales must be uint8 E8M0 codes, not dtype {s.dtype}")
    if f.kind == "int":
        vals = decode(f, e) * 2.0**-_INT8_FRAC
    else:
        vals = decode(f, e)
    blk, length = _blocks(vals, block_size, axis)
    sc = np.moveaxis(s, axis, -1)
    if sc.shape != blk.shape[:-1]:
        raise FormatError(f"scales shape {s.shape} does not match {blk.shape[-2]} blocks of "
                          f"{block_size} along axis {axis}")
    out = np.ldexp(blk, (sc.astype(np.int64) - 127)[..., None])
    out = np.where((sc == E8M0_NAN)[..., None], np.nan, out)
    return _unblocks(out, length, axis)
