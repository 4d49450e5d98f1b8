"""DMA / compute overlap of a tile sequence as a max-plus linear system, reduced in O(n) numpy work.

For tile ``i`` with DMA time ``d_i`` and compute time ``c_i`` (same clock):

* double-buffered SRAM: ``D_i = max(D_{i-1}, C_{i-2}) + d_i`` (a buffer frees when the tile
  that used it two steps earlier has been computed), ``C_i = max(C_{i-1}, D_i) + c_i``;
* single buffer: ``D_i = max(D_{i-1}, C_{i-1}) + d_i``, ``C_i = D_i + c_i``.

The state ``(D_i, C_i, C_{i-1})`` evolves by a 3x3 max-plus matrix per tile, so the end time of
the whole sequence is the max-plus product of the matrices, computed by pairwise tree reduction
(vectorised, exact). A sequence repeated ``b`` times (batched GEMMs) is a matrix power.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tile_matrices", "chain_product", "mp_power", "mp_mul", "makespan", "MP_IDENTITY"]

_NEG = -np.inf
MP_IDENTITY = np.array([[0.0, _NEG, _NEG], [_NEG, 0.0, _NEG], [_NEG, _NEG, 0.0]])


def tile_matrices(d: np.ndarray, c: np.ndarray, double_buffer: bool) -> np.ndarray:
    """Max-plus transition matrices ``(..., n, 3, 3)`` for DMA times ``d`` and compute ``c``."""
    d = np.asarray(d, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    m = np.full((*d.shape, 3, 3), _NEG)
    if double_buffer:
        m[..., 0, 0] = d
        m[..., 0, 2] = d
        m[..., 1, 0] = d + c
        m[..., 1, 1] = c
        m[..., 1, 2] = d + c
    else:
        m[..., 0, 0] = d
        m[..., 0, 1] = d
        m[..., 1, 0] = d + c
        m[..., 1, 1] = d + c
    m[..., 2, 1] = 0.0
    return m


def mp_mul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Max-plus product ``left (x) right`` over the last two axes (``right`` happens first)."""
    return np.max(left[..., :, :, None] + right[..., None, :, :], axis=-2)


def chain_product(mats: np.ndarray) -> np.ndarray:
    """``M_{n-1} (x) ... (x) M_0`` over axis -3 (time order), batched over leading axes."""
    while mats.shape[-3] > 1:
        n = mats.shape[-3]
        if n % 2:
            pad = np.broadcast_to(MP_IDENTITY, (*mats.shape[:-3], 1, 3, 3))
            mats = np.concatenate([mats, pad], axis=-3)
        mats = mp_mul(mats[..., 1::2, :, :], mats[..., 0::2, :, :])
    return mats[..., 0, :, :]


def mp_power(mat: np.ndarray, e: int) -> np.ndarray:
    """``mat`` to the max-plus power ``e`` (>= 0) by repeated squaring."""
    result = np.broadcast_to(MP_IDENTITY, mat.shape).copy()
    base = mat
    while e:
        if e & 1:
            result = mp_mul(base, result)
        base = mp_mul(base, base)
        e >>= 1
    return result


def makespan(mat: np.ndarray) -> np.ndarray:
    """End time of a sequence with transition ``mat`` started from the all-zero state."""
    return np.max(mat, axis=(-2, -1))
