"""NumPy reference of the logic-PIM unit and the packing of a job into buffer words and beats.

Semantics (what :class:`~mixforge.hw.pim.LogicPIMUnit` computes, bit for bit), for activations
``X`` (tokens x K, format ``a``) and streamed weights ``W`` (K x N, format ``w``)::

    Y[b, n] = sum_k X[b, k] * W[k, n]

* every product is exact (``decode_exact`` of both operands: ``sig * 2**exp``), and the sum over
  K is exact (a fixed-point accumulator with LSB ``PimUnitConfig.acc_lsb``, wide enough for any K
  the buffer holds: it never wraps);
* INT4 / INT8 weights x INT8 activations: ``Y`` is that integer (int32 two's complement);
* every other pair (FP4 E2M1 or posit(8,0) weights, or FP16 activations): the exact sum is
  rounded **once** into float32 (IEEE round-to-nearest-even, subnormals kept, an exact zero is
  ``+0``) by :func:`mixforge.models.pe.round_fixed`;
* a NaR weight (posit) or a non-finite FP16 activation anywhere in a dot product makes that
  result the canonical NaN ``0x7fc00000`` (no infinity arithmetic: the unit keeps one sticky
  flag per token, as the ShiftAddPE does).

For finite inputs this is ``mixforge.models.gemm.gemm(x, w, a, w, "float32",
accumulate="exact")`` (and the plain integer matmul for INT x INT8), which the tests check.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.pim.config import BITS, FORMAT_NAMES, PimUnitConfig

__all__ = ["reference_job", "pack_job", "random_operands", "CANONICAL_NAN"]

CANONICAL_NAN = 0x7FC00000


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
    nan = (xsp != 0).any(axis=1)[:, None] | (wsp != 0).any(axis=0)[None, :]
    out = np.empty(total.shape, np.int64)
    for (b, j), v in np.ndenumerate(total):
        out[b, j] = CANONICAL_NAN if nan[b, j] else round_fixed("float32", int(v), xlsb + wlsb)
    return out


def _fixed(sig: NDArray[np.int64], exp: NDArray[np.int64]) -> tuple[NDArray[np.object_], int]:
    """Exact integers ``sig * 2**(exp - lsb)`` (Python ints) and their common ``lsb``."""
    lsb = min(0, int(exp.min())) if exp.size else 0
    return sig.astype(object) * (np.ones(sig.shape, object) << (exp - lsb).astype(object)), lsb


def random_operands(w_fmt: str, a_fmt: str, tokens: int, k: int, n: int,
                    rng: np.random.Generator, *, specials: bool = False
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Random bit patterns ``(x, w)``: all finite codes, every FP16 exponent equally likely.

    ``specials``: additionally put a non-finite FP16 activation into token 0 and a NaR into
    weight column 0 (where the formats have them), so some results must be NaN.
    """
    wb = BITS[w_fmt]
    w = rng.integers(0, 1 << wb, (k, n)).astype(np.int64)
    if w_fmt == "posit8":
        w = np.where(w == 0x80, 0x40, w)  # NaR only where asked for
    if a_fmt == "fp16":
        e = rng.integers(0, 31, (tokens, k))
        x = (rng.integers(0, 2, (tokens, k)) << 15 | e << 10 |
             rng.integers(0, 1024, (tokens, k))).astype(np.int64)
    else:
        x = rng.integers(0, 256, (tokens, k)).astype(np.int64)
    if specials:
        if a_fmt == "fp16":
            x[0, rng.integers(0, k)] = int(rng.choice([0x7C00, 0xFC00, 0x7E01]))
        if w_fmt == "posit8":
            w[rng.integers(0, k), 0] = 0x80
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
