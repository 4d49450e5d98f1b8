"""NumPy reference of the logic-PIM unit (built on ``mixforge.models.pe.shift_add_mul``) and the
packing of a job into activation-buffer words and DRAM weight beats."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.pim.config import PimConfig

__all__ = ["reference_job", "pack_job"]


def reference_job(cfg: PimConfig, mode: str, x: NDArray[np.int64], w: NDArray[np.int64]
                  ) -> NDArray[np.int64]:
    """``Y[b, n] = sum_k X[b, k] * W[k, n]`` exactly, products by MixPE shift-and-add.

    ``x``: INT8 patterns (tokens x K); ``w``: INT4 (``gemv_int4``) or INT8 patterns (K x N);
    for ``attn_int8`` ``w`` is K^T (head_dim x keys) and ``Y`` the raw scores q . k.
    """
    from mixforge.models.pe import shift_add_mul

    kbits = 4 if mode == "gemv_int4" else 8
    prod = shift_add_mul(w[None, :, :], x[:, :, None], k=kbits, act="int8")
    return prod.sum(axis=1)


def pack_job(cfg: PimConfig, mode: str, tokens: int, k: int, n: int, rng: np.random.Generator
             ) -> tuple[NDArray[np.int64], NDArray[np.int64], list[tuple[int, int]], list[int]]:
    """Random operands and their encodings: ``(x, w, [(addr, act word)], [weight beat])``."""
    kbits = 4 if mode == "gemv_int4" else 8
    x = rng.integers(0, 256, (tokens, k)).astype(np.int64)
    w = rng.integers(0, 1 << kbits, (k, n)).astype(np.int64)
    words = -(-k // cfg.word_acts)
    kp = words * cfg.word_acts
    xp = np.zeros((tokens, kp), np.int64)
    xp[:, :k] = x
    acts = []
    for b in range(tokens):
        for i in range(words):
            acts.append((b * cfg.max_k_words + i, _pack(xp[b, i * cfg.word_acts:
                                                           (i + 1) * cfg.word_acts], 8)))
    per_beat = cfg.width // kbits
    wp = np.zeros((kp, n), np.int64)
    wp[:k] = w
    beats = [_pack(wp[s:s + per_beat, j], kbits) for j in range(n)
             for s in range(0, kp, per_beat)]
    return x, w, acts, beats


def _pack(vals: NDArray[np.int64], width: int) -> int:
    word = 0
    for i, v in enumerate(vals.tolist()):
        word |= (int(v) & ((1 << width) - 1)) << (i * width)
    return word
