"""GEMM references with stated accumulation, and MixPE group GEMM with late dequantization.

Shapes: ``A`` is (M, K), ``B`` / weights are (K, N), results are (M, N). Inputs and outputs are
bit patterns; ``gemm_ideal`` returns float64 for error reporting.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mixforge.errors import FormatError
from mixforge.models._common import as_bits, check_rounding
from mixforge.models.arith import add_product, exact_add, product_special
from mixforge.models.codec import decode
from mixforge.models.exact import decode_exact, round_scaled
from mixforge.models.formats import NumberFormat, get_format
from mixforge.models.groupq import GroupQuant, group_dequantize

__all__ = ["gemm", "gemm_ideal", "group_gemm_late_dequant", "group_gemm_dequant_first"]

Accumulate = Literal["exact", "sequential"]
Bits = NDArray[np.unsignedinteger]


def _matrix(fmt: NumberFormat, x: ArrayLike, name: str) -> NDArray[np.uint64]:
    u = as_bits(fmt, x, name)
    if u.ndim != 2:
        raise FormatError(f"{name} must be a 2-D array, not shape {u.shape}")
    return u


def _aligned(sig: NDArray[np.int64], exp: NDArray[np.int64]) -> tuple[NDArray, int, int]:
    """Integers ``sig << (exp - lsb)`` (int64, or object if wider) with their lsb and bit width."""
    nz = sig != 0
    lsb = int(exp[nz].min()) if nz.any() else 0
    sh = np.where(nz, exp - lsb, 0)
    width = int((np.floor(np.log2(np.abs(sig[nz]))) + 1 + sh[nz]).max()) if nz.any() else 0
    if width <= 62:
        return sig << sh, lsb, width
    return sig.astype(object) * (np.ones(sh.shape, dtype=object) << sh.astype(object)), lsb, width


def _exact_matmul(a: NDArray, wa: int, b: NDArray, wb: int, k: int) -> NDArray:
    """Exact integer matmul: float64 BLAS when every partial sum stays below 2**53."""
    if wa + wb + max(k - 1, 0).bit_length() <= 53:
        # all products and partial sums are integers < 2**53: exact in any summation order
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    if wa + wb + max(k - 1, 0).bit_length() <= 62 and a.dtype != object and b.dtype != object:
        return a @ b
    return a.astype(object) @ b.astype(object)


def gemm(a: ArrayLike, b: ArrayLike, a_fmt: NumberFormat | str,
         b_fmt: NumberFormat | str | None = None, out_fmt: NumberFormat | str | None = None,
         accumulate: Accumulate = "exact", rounding: str = "near_even") -> Bits:
    """Matrix product ``A @ B`` on bit patterns with a stated accumulation.

    Parameters
    ----------
    a, b
        Bit patterns, shapes (M, K) of ``a_fmt`` and (K, N) of ``b_fmt`` (default ``a_fmt``).
    out_fmt
        Result format (default ``a_fmt``).
    accumulate
        ``"exact"``: every dot product is summed exactly (a quire / wide fixed-point
        accumulator) and rounded once into ``out_fmt``; an exact zero is ``+0``.
        ``"sequential"``: ``acc = +0``; for k = 0 .. K-1: ``acc = round(acc + a[i,k]*b[k,j])``
        in ``out_fmt`` (exact product, one rounding per step, like a chain of FMAs).

    Notes
    -----
    With ``exact``, a dot product containing NaN/NaR, ``0 * inf`` or opposite infinities gives
    NaN (NaR); otherwise an infinite product gives that infinity. ``sequential`` follows
    :func:`~mixforge.models.arith.fma` at every step.
    """
    fa = get_format(a_fmt)
    fb = get_format(b_fmt) if b_fmt is not None else fa
    fo = get_format(out_fmt) if out_fmt is not None else fa
    check_rounding(rounding)
    ua, ub = _matrix(fa, a, "a"), _matrix(fb, b, "b")
    if ua.shape[1] != ub.shape[0]:
        raise FormatError(f"inner dimensions differ: a is {ua.shape}, b is {ub.shape}")
    sa, ea, pa = decode_exact(fa, ua)
    sb, eb, pb = decode_exact(fb, ub)
    if accumulate == "sequential":
        return _sequential(fa, ua, sa, ea, pa, fb, ub, sb, eb, pb, fo, rounding)
    if accumulate != "exact":
        raise FormatError(f"accumulate must be 'exact' or 'sequential', not {accumulate!r}")
    ia, la, wa = _aligned(sa, ea)
    ib, lb, wb = _aligned(sb, eb)
    total = _exact_matmul(ia, wa, ib, wb, ua.shape[1])
    code = round_scaled(fo, total, la + lb, rounding).astype(np.uint64)
    rows, cols = (pa != 0).any(axis=1), (pb != 0).any(axis=0)
    if rows.any() or cols.any():
        with np.errstate(invalid="ignore", over="ignore"):
            ideal = decode(fa, ua) @ decode(fb, ub)  # only its NaN/inf class is used
        mask = rows[:, None] | cols[None, :]
        nan_c, inf_c = fo.nan_code, fo.inf_code
        if (mask & np.isnan(ideal)).any() and nan_c is None:
            raise FormatError(f"{fo.name} cannot represent the NaN result of this GEMM")
        if nan_c is not None:
            code = np.where(mask & np.isnan(ideal), np.uint64(nan_c), code)
        inf = mask & np.isinf(ideal)
        if inf.any():
            if inf_c is None:
                big = np.uint64(nan_c if nan_c is not None else fo.max_code)
                code = np.where(inf, big | np.where((ideal < 0) & (fo.kind != "posit"),
                                                    np.uint64(1 << (fo.bits - 1)),
                                                    np.uint64(0)), code)
            else:
                neg = np.where(ideal < 0, np.uint64(1 << (fo.bits - 1)), np.uint64(0))
                code = np.where(inf, np.uint64(inf_c) | neg, code)
    return code.astype(fo.storage_dtype)


def _sequential(fa: NumberFormat, ua: NDArray[np.uint64], sa: NDArray, ea: NDArray,
                pa: NDArray, fb: NumberFormat, ub: NDArray[np.uint64], sb: NDArray,
                eb: NDArray, pb: NDArray, fo: NumberFormat, rounding: str) -> Bits:
    m, k = ua.shape
    n = ub.shape[1]
    acc = np.zeros((m, n), dtype=fo.storage_dtype)
    na = (ua >> np.uint64(fa.bits - 1)) == 1 if fa.kind == "float" else sa < 0
    nb = (ub >> np.uint64(fb.bits - 1)) == 1 if fb.kind == "float" else sb < 0
    for i in range(k):
        s1, e1, p1, n1 = sa[:, i:i + 1], ea[:, i:i + 1], pa[:, i:i + 1], na[:, i:i + 1]
        s2, e2, p2, n2 = sb[i:i + 1, :], eb[i:i + 1, :], pb[i:i + 1, :], nb[i:i + 1, :]
        neg = n1 ^ n2
        pp = product_special(s1, p1, s2, p2, neg)
        acc = add_product(fo, s1 * s2, e1 + e2, pp, neg, acc, rounding)
    return acc


def gemm_ideal(a: ArrayLike, a_fmt: NumberFormat | str,
               w: GroupQuant | NDArray[np.floating]) -> NDArray[np.float64]:
    """float64 reference ``decode(A) @ W`` for error reports (W dequantized exactly if grouped).

    Not bit-exact by design: float64 BLAS rounding and order; use it to measure the error of the
    bit-exact paths.
    """
    fa = get_format(a_fmt)
    wv = group_dequantize(w) if isinstance(w, GroupQuant) else np.asarray(w, dtype=np.float64)
    return decode(fa, _matrix(fa, a, "a")) @ wv


def _finite_operand(f: NumberFormat, u: NDArray[np.uint64], name: str
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    s, e, p = decode_exact(f, u)
    if (p != 0).any():
        raise FormatError(f"{name} contains NaN/NaR or infinity; group GEMM needs finite input")
    return s, e


def group_gemm_late_dequant(a: ArrayLike, a_fmt: NumberFormat | str, gq: GroupQuant,
                            out_fmt: NumberFormat | str = "float32",
                            rounding: str = "near_even") -> Bits:
    """MixPE group GEMM: integer accumulation per group, one dequantization per group.

    For each group g (``gq.group_size`` consecutive rows of K) in order g = 0, 1, ...::

        D_g[i, j] = sum_{k in g} a[i, k] * (q[k, j] - z[g, j])      # exact
        y[i, j]   = round_out(y[i, j] + s[g, j] * D_g[i, j])         # one rounding per group

    starting from ``y = +0``. ``D_g`` is exact (an integer when ``a`` is an integer format;
    an exact dyadic sum otherwise, e.g. FP16 activations); ``s * D_g + y`` is formed exactly and
    rounded once into ``out_fmt`` (a fused multiply-add per group).

    Parameters
    ----------
    a
        Activation bit patterns (M, K) of ``a_fmt`` (e.g. ``int8`` or ``float16``); finite.
    gq
        Quantized weights from :func:`~mixforge.models.groupq.group_quantize` (K, N).
    out_fmt
        Accumulator / output format (float32 by default; float16 or bfloat16 for narrow
        accumulators).
    """
    fa, fo = get_format(a_fmt), get_format(out_fmt)
    check_rounding(rounding)
    ua = _matrix(fa, a, "a")
    k = ua.shape[1]
    if gq.q.shape[0] != k:
        raise FormatError(f"inner dimensions differ: a is {ua.shape}, weights are {gq.q.shape}")
    sa, ea = _finite_operand(fa, ua, "a")
    ss, es_ = _finite_operand(gq.scale_fmt, as_bits(gq.scale_fmt, gq.scales), "scales")
    ia, la, wa = _aligned(sa, ea)
    s_bits = int(np.abs(ss).max()).bit_length() if ss.size else 0
    wq = gq.q_values()
    y = np.zeros((ua.shape[0], wq.shape[1]), dtype=fo.storage_dtype)
    for g in range(gq.scales.shape[0]):
        rows = slice(g * gq.group_size, min((g + 1) * gq.group_size, k))
        wd = wq[rows] - gq.zeros[g]
        wbits = int(np.abs(wd).max()).bit_length() if wd.size else 0
        d = _exact_matmul(ia[:, rows], wa, wd, wbits, wd.shape[0])
        ys, ye, _ = decode_exact(fo, y)
        pe = es_[g][None, :] + la
        dmax = int(np.abs(d).max()) if d.size else 0
        if d.dtype != object and dmax.bit_length() + s_bits <= 57:
            # s*D fits an int64 significand below 2**58: exact_add is exact up to a sticky
            # bit that cannot change the one rounding (both addends are exact)
            tot_s, tot_e = exact_add(ys, ye, ss[g][None, :] * d, pe)
            y = round_scaled(fo, tot_s, tot_e, rounding)
            continue
        # wide case (e.g. FP16 activations): exact y + s*D as Python ints, then one rounding
        e0 = np.minimum(np.where(ys != 0, ye, pe), pe)
        obj = lambda v: np.asarray(v).astype(object)  # noqa: E731
        total = (obj(ys) * (1 << obj(ye - e0)) +
                 obj(d) * obj(ss[g][None, :]) * (1 << obj(pe - e0)))
        y = round_scaled(fo, total, e0, rounding)
    return y


def group_gemm_dequant_first(a: ArrayLike, a_fmt: NumberFormat | str, gq: GroupQuant,
                             deq_fmt: NumberFormat | str = "float16",
                             out_fmt: NumberFormat | str = "float32",
                             accumulate: Accumulate = "sequential",
                             rounding: str = "near_even") -> Bits:
    """Conventional baseline: dequantize weights first, then a GEMM.

    ``W'[k, j] = round_deq(s[g(k), j] * (q[k, j] - z[g(k), j]))`` (one rounding into
    ``deq_fmt``, as a GPU kernel dequantizing to FP16 does), then
    ``gemm(a, W', a_fmt, deq_fmt, out_fmt, accumulate)``.
    """
    fd = get_format(deq_fmt)
    check_rounding(rounding)
    # group_dequantize is exact in float64, so encoding it rounds s*(q-z) exactly once.
    wd = fd.encode(group_dequantize(gq), rounding)
    return gemm(a, wd, a_fmt, fd, out_fmt, accumulate, rounding)
