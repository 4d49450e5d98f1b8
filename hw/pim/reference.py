"""NumPy reference of the logic-PIM unit and the packing of a job into buffer words and beats.

Semantics (what :class:`~mixforge.hw.pim.LogicPIMUnit` computes, bit for bit), for activations
``X`` (tokens x K, format ``a``) and streamed weights ``W`` (K x N, format ``w``)::

    Y[b, n] = sum_k X[b, k] * W[k, n]

* every product is exact (``decode_exact`` of both operands: ``sig * 2**exp``), and the sum over
  K is exact (a fixed-point accumulator with LSB ``PimUnitConfig.acc_lsb``, wide enough for any K
  the buffer holds: it never wraps);
* INT4 / INT8 weights x INT8 activations: ``Y`` is that integer (int32 two's complement);
* every other pair (FP4 E2M1, posit(8,0), FP8 E4M3 / E5M2, FP16 or BF16 on either side): the
  exact sum is rounded **once** into float32 (IEEE round-to-nearest-even, subnormals kept, an
  exact zero is ``+0``, overflow to ``±inf``) by :func:`mixforge.models.pe.round_fixed`;
* special values follow ``models.gemm(accumulate="exact")``: a NaN / NaR input, a ``0 * inf``
  product, or products of both infinite signs anywhere in a dot product give the canonical NaN
  ``0x7fc00000``; otherwise an infinite product gives that infinity (``0x7f800000`` /
  ``0xff800000``). The unit keeps three sticky bits per token for this.

This is ``mixforge.models.gemm.gemm(x, w, a, w, "float32", accumulate="exact")`` (and the plain
integer matmul for INT x INT8) for every input, which the tests check, together with a
``fractions.Fraction`` oracle.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.pim.config import BITS, FLOAT_FIELDS, FORMAT_NAMES, PimUnitConfig

__all__ = ["reference_job", "pack_job", "random_operands", "edge_codes", "CANONICAL_NAN",
           "POS_INF", "NEG_INF"]

CANONICAL_NAN = 0x7FC00000
POS_INF, NEG_INF = 0x7F800000, 0xFF800000


def reference_job(cfg: PimUnitConfig, w_fmt: str, a_fmt: str, x: NDArray[np.int64],
                  w: NDArray[np.int64]) -> NDArray[np.int64]:
    """Expected outputs (tokens x N) for bit patterns ``x`` (tokens x K) and ``w`` (K x N).

    Integers for INT x INT8 (see the module docstring), float32 bit patterns otherwise.
    """
    from mixforge.models.exact import decode_exact
    from mixforge.models.pe import round_fixed

    xs, xe, xsp = decode_exact(FORMAT_NAMES[a_fmt], np.asarray(x, np.int64))
    ws, we, wsp = decode_exact(FORMAT_NAMES[w_fmt], np.asarray(w, np.int64))
    xf, xlsb = _fixed(xs, xe)
    wf, wlsb = _fixed(ws, we)
    total = xf @ wf  # exact Python integers at 2**(xlsb + wlsb)
    if cfg.int_output(w_fmt, a_fmt):
        return np.asarray(total, dtype=np.int64)
    nan, pinf, ninf = _special_classes(xs, xsp, ws, wsp)
    nan |= pinf & ninf
    out = np.empty(total.shape, np.int64)
    for (b, j), v in np.ndenumerate(total):
        out[b, j] = CANONICAL_NAN if nan[b, j] else POS_INF if pinf[b, j] else \
            NEG_INF if ninf[b, j] else round_fixed("float32", int(v), xlsb + wlsb)
    return out


def _special_classes(xs: NDArray[np.int64], xsp: NDArray[np.uint8], ws: NDArray[np.int64],
                     wsp: NDArray[np.uint8]) -> tuple[NDArray[np.bool_], ...]:
    """Per result: any NaN product (NaN input or ``0 * inf``), any +inf, any -inf product."""
    x_nan, w_nan = xsp == 1, wsp == 1
    x_inf, w_inf = xsp >= 2, wsp >= 2
    x_zero, w_zero = (xs == 0) & (xsp == 0), (ws == 0) & (wsp == 0)
    x_neg, w_neg = (xsp == 3) | (xs < 0), (wsp == 3) | (ws < 0)

    def pairs(a: NDArray[np.bool_], b: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return np.asarray(a.astype(np.int64) @ b.astype(np.int64) > 0)

    nan = x_nan.any(axis=1)[:, None] | w_nan.any(axis=0)[None, :] | \
        pairs(x_inf, w_zero) | pairs(x_zero, w_inf)
    # an infinite product: either operand infinite; its sign is the XOR of the signs
    pinf = pairs(x_inf & ~x_neg, ~w_neg) | pairs(x_inf & x_neg, w_neg) | \
        pairs(~x_neg, w_inf & ~w_neg) | pairs(x_neg, w_inf & w_neg)
    ninf = pairs(x_inf & ~x_neg, w_neg) | pairs(x_inf & x_neg, ~w_neg) | \
        pairs(~x_neg, w_inf & w_neg) | pairs(x_neg, w_inf & ~w_neg)
    return nan, pinf, ninf


def _fixed(sig: NDArray[np.int64], exp: NDArray[np.int64]) -> tuple[NDArray[np.object_], int]:
    """Exact integers ``sig * 2**(exp - lsb)`` (Python ints) and their common ``lsb``."""
    lsb = min(0, int(exp.min())) if exp.size else 0
    return sig.astype(object) * (np.ones(sig.shape, object) << (exp - lsb).astype(object)), lsb


def edge_codes(fmt: str) -> list[int]:
    """Finite edge patterns of a PIM format: ±0, smallest / largest subnormal, smallest /
    largest normal, ±1 (floats); the extremes and ±1 (integers, FP4, posit8)."""
    if fmt in FLOAT_FIELDS:
        eb, mb, bias, has_inf = FLOAT_FIELDS[fmt]
        top = (1 << eb) - 2 if has_inf else (1 << eb) - 1
        mags = [0, 1, (1 << mb) - 1, 1 << mb, top << mb | ((1 << mb) - 1) - (not has_inf),
                bias << mb]
        return [v | s << (eb + mb) for v in mags for s in (0, 1)]
    return {"int4": [0, 1, 7, 8, 15], "int8": [0, 1, 127, 128, 255],
            "fp4": [0, 1, 7, 8, 9, 15], "posit8": [0, 1, 0x40, 0x7F, 0x81, 0xC0, 0xFF]}[fmt]


def _specials(fmt: str) -> list[int]:
    """Non-finite patterns: NaN / NaR and the infinities where ``fmt`` has them."""
    if fmt in FLOAT_FIELDS:
        eb, mb, _, has_inf = FLOAT_FIELDS[fmt]
        emax = ((1 << eb) - 1) << mb
        if not has_inf:
            return [emax | ((1 << mb) - 1), 1 << (eb + mb) | emax | ((1 << mb) - 1)]
        return [emax, 1 << (eb + mb) | emax, emax | 1, emax | 1 << (mb - 1)]
    return [0x80] if fmt == "posit8" else []


def _random_codes(fmt: str, shape: tuple[int, int], rng: np.random.Generator
                  ) -> NDArray[np.int64]:
    """Random finite patterns; floats: every exponent (subnormal included) equally likely."""
    if fmt not in FLOAT_FIELDS:
        v = rng.integers(0, 1 << BITS[fmt], shape).astype(np.int64)
        return np.where(v == 0x80, 0x40, v) if fmt == "posit8" else v  # NaR only when asked
    eb, mb, _, has_inf = FLOAT_FIELDS[fmt]
    e = rng.integers(0, (1 << eb) - 1 if has_inf else 1 << eb, shape)
    v = (rng.integers(0, 2, shape) << (eb + mb) | e << mb |
         rng.integers(0, 1 << mb, shape)).astype(np.int64)
    if not has_inf:  # E4M3: S.1111.111 is NaN
        v = np.where(v & ((1 << (eb + mb)) - 1) == (1 << (eb + mb)) - 1, v ^ 1, v)
    return v


def random_operands(w_fmt: str, a_fmt: str, tokens: int, k: int, n: int,
                    rng: np.random.Generator, *, specials: bool = False
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Random bit patterns ``(x, w)``: all finite codes, every float exponent equally likely.

    ``specials``: additionally replace about one element in eight by an edge value
    (:func:`edge_codes`: signed zeros, subnormals, extremes), put a non-finite activation
    into token 0 and a NaN / infinite weight into column 0, and (where the formats have
    infinities) a +inf weight into column 1 and a -inf activation into token 1, so that NaN,
    ``0 * inf``, opposite infinities and infinite results all occur.
    """
    x = _random_codes(a_fmt, (tokens, k), rng)
    w = _random_codes(w_fmt, (k, n), rng)
    if specials:
        for arr, fmt in ((x, a_fmt), (w, w_fmt)):
            edges = np.array(edge_codes(fmt), np.int64)
            pick = rng.random(arr.shape) < 0.125
            arr[pick] = rng.choice(edges, int(pick.sum()))
        sx, sw = _specials(a_fmt), _specials(w_fmt)
        if sx:
            x[0, rng.integers(0, k)] = int(rng.choice(sx))
        if sw:
            w[rng.integers(0, k), 0] = int(rng.choice(sw))
        if a_fmt in FLOAT_FIELDS and FLOAT_FIELDS[a_fmt][3] and tokens > 1:
            x[1, rng.integers(0, k)] = sx[1]  # -inf
        if w_fmt in FLOAT_FIELDS and FLOAT_FIELDS[w_fmt][3] and n > 1:
            w[rng.integers(0, k), 1] = sw[0]  # +inf
    return x, w


def pack_job(cfg: PimUnitConfig, w_fmt: str, a_fmt: str, x: NDArray[np.int64], w: NDArray[np.int64]
             ) -> tuple[list[tuple[int, int]], list[int]]:
    """Encodings of a job: ``([(addr, activation word)], [weight beat])``.

    Activation word ``i`` of token ``b`` is at ``b * max_k_words + i`` and holds elements
    ``i*P .. i*P+P-1`` (``P = acts_per_word``), element ``e`` at bits ``[e*a, (e+1)*a)``.
    Weight beats come column by column; a column is K padded with zeros
    (:meth:`PimUnitConfig.padded_k`), ``width / w_bits`` elements per beat, element ``e`` at bits
    ``[e*w_bits, (e+1)*w_bits)``.
    """
    tokens, k = x.shape
    n = w.shape[1]
    ab, wb = BITS[a_fmt], BITS[w_fmt]
    per_word = cfg.acts_per_word(a_fmt)
    kp = cfg.padded_k(w_fmt, a_fmt, k)
    words = kp // per_word
    xp = np.zeros((tokens, kp), np.int64)
    xp[:, :k] = x
    acts = [(b * cfg.max_k_words + i, _pack(xp[b, i * per_word:(i + 1) * per_word], ab))
            for b in range(tokens) for i in range(words)]
    per_beat = cfg.width // wb
    wp = np.zeros((kp, n), np.int64)
    wp[:k] = w
    beats = [_pack(wp[s:s + per_beat, j], wb) for j in range(n) for s in range(0, kp, per_beat)]
    return acts, beats


def _pack(vals: NDArray[np.int64], width: int) -> int:
    word = 0
    for i, v in enumerate(vals.tolist()):
        word |= (int(v) & ((1 << width) - 1)) << (i * width)
    return word
