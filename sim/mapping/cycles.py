"""Per-tile compute cycles of the PE array: a thin wrapper over ``mixforge.hw.specs.ArraySpec``.

The formulas live in ``ArraySpec`` (the contract with the RTL, checked in Verilator); this module
only adapts them to SRAM tiles and SIMD lanes and never restates them.

* A PE mode with ``lanes`` MACs per cycle consumes ``lanes`` K-elements per cycle, so a tile with
  ``tk`` K-elements occupies the array like one with ``ceil(tk / lanes)`` (groups likewise).
* Consecutive tiles run back to back: tile ``i`` occupies the array for the sum of its folds'
  steady-state periods (``ArraySpec.fold_streams`` + ``ArraySpec.steady_period``), and the op
  ends ``gemm_cycles - occupancy`` cycles after the last tile's occupancy (``-1`` for SCALE-Sim's
  schedule). For one tile the sum is exactly ``ArraySpec.gemm_cycles``; without double buffering
  it is exactly SCALE-Sim's count for any tiling that streams the whole M (WS) per fold.
* A run of consecutive one-fold tiles with the same stationary block (WS: weights, OS:
  accumulators) is one fold whose stream is the run's summed stream (:func:`can_continue`):
  splitting the streamed dimension into SRAM tiles reloads nothing, so the run costs what
  ``ArraySpec`` gives for the merged tile (SCALE-Sim's single-pass schedule when the run covers
  the whole streamed dimension).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from mixforge.hw.specs import ArraySpec

__all__ = ["tile_cycles", "tail_cycles", "gemm_compute_cycles", "one_fold", "can_continue",
           "stream_cycles", "stream_counts", "tile_cycles_np", "grid_cycles"]


def _div_up(a: int, b: int) -> int:
    return -(-a // b)


def _eff(tk: int, lanes: int, group: int | None) -> tuple[int, int | None]:
    return _div_up(tk, lanes), (None if not group else _div_up(group, lanes))


def stream_counts(spec: ArraySpec, m: int, k: int, n: int,
                  group: int | None = None) -> list[tuple[int, int]]:
    """``ArraySpec.fold_streams`` run-length encoded: ``(stream length, folds)`` pairs.

    O(1) in the fold count; the order of the folds is not kept (occupancy sums do not need it).
    """
    chunks = [(k, 1)] if not group else [(group, k // group)] + ([(k % group, 1)] if k % group
                                                                  else [])
    chunks = [(ln, cnt) for ln, cnt in chunks if cnt and ln]
    n_tiles = _div_up(n, spec.cols)
    if spec.dataflow == "ws":
        k_folds = sum(cnt * _div_up(ln, spec.rows) for ln, cnt in chunks)
        per = k_folds * n_tiles
        if spec.acc_depth is None:
            return [(m, per)]
        d = spec.acc_depth
        out = [(d, (m // d) * per)] if m // d else []
        return out + ([(m % d, per)] if m % d else [])
    return [(ln, cnt * _div_up(m, spec.rows) * n_tiles) for ln, cnt in chunks]


@lru_cache(maxsize=65536)
def tile_cycles(spec: ArraySpec, lanes: int, tm: int, tk: int, tn: int,
                group: int | None = None) -> float:
    """Array occupancy (cycles) of one ``tm x tk x tn`` tile when tiles run back to back.

    ``group``: quantization group along K that ends a fold early (MixPE late dequantization).
    """
    ke, ge = _eff(tk, lanes, group)
    return float(sum(cnt * spec.steady_period(s) for s, cnt in stream_counts(spec, tm, ke, tn, ge)))


@lru_cache(maxsize=65536)
def tail_cycles(spec: ArraySpec, lanes: int, tm: int, tk: int, tn: int,
                group: int | None = None) -> float:
    """Cycles from the end of the last tile's occupancy to its last output (may be negative)."""
    ke, ge = _eff(tk, lanes, group)
    return spec.gemm_cycles(tm, ke, tn, ge) - tile_cycles(spec, lanes, tm, tk, tn, group)


def gemm_compute_cycles(spec: ArraySpec, lanes: int, m: int, k: int, n: int,
                        group: int | None = None) -> int:
    """Compute cycles of a whole GEMM mapped as one tile (``ArraySpec.gemm_cycles``)."""
    ke, ge = _eff(k, lanes, group)
    return spec.gemm_cycles(m, ke, n, ge)


def one_fold(spec: ArraySpec, lanes: int, tm: int, tk: int, tn: int,
             group: int | None = None) -> bool:
    """Whether a ``tm x tk x tn`` tile is a single array fold (``ArraySpec.fold_streams``)."""
    ke, ge = _eff(tk, lanes, group)
    return sum(cnt for _, cnt in stream_counts(spec, tm, ke, tn, ge)) == 1


def can_continue(spec: ArraySpec, lanes: int, tm: int, tk: int, tn: int,
                 group: int | None = None) -> bool:
    """Whether the next tile of the same stationary operand continues this tile's fold.

    A one-fold tile keeps the array's stationary operand (WS: the ``tk x tn`` weights; OS: the
    ``tm x tn`` accumulators); a following tile with the same stationary block only lengthens
    the stream (WS: more M rows through the loaded weights, the outputs leave as partial sums;
    OS: more K beats into the same accumulators), as :meth:`ArraySpec.schedule` runs one fold
    with the summed stream length. Not for OS with groups (a group ends an OS fold) nor for
    WS M-chunked arrays (``acc_depth``: the chunks are folds of their own).
    """
    if spec.acc_depth is not None or (spec.dataflow == "os" and group):
        return False
    return one_fold(spec, lanes, tm, tk, tn, group)


def stream_cycles(spec: ArraySpec, lanes: int, tm: int, tk: int) -> int:
    """Streamed beats of a one-fold tile: WS ``tm`` rows, OS ``ceil(tk / lanes)`` K beats."""
    return tm if spec.dataflow == "ws" else _div_up(tk, lanes)


def tile_cycles_np(spec: ArraySpec, lanes: int, tm: np.ndarray, tk: np.ndarray,
                   tn: np.ndarray) -> np.ndarray:
    """:func:`tile_cycles` over arrays of tiles (no groups, no ``acc_depth``): every fold of
    a tile streams the same length, so the occupancy is ``folds * steady_period(stream)``."""
    if spec.acc_depth is not None:
        raise ValueError("tile_cycles_np: acc_depth arrays need tile_cycles")
    tm, tk, tn = (np.maximum(np.asarray(x, dtype=np.int64), 1) for x in (tm, tk, tn))
    ke = -(-tk // lanes)
    cols = -(-tn // spec.cols)
    if spec.dataflow == "ws":
        folds, stream = -(-ke // spec.rows) * cols, tm
    else:
        folds, stream = -(-tm // spec.rows) * cols, ke
    uniq, inv = np.unique(stream, return_inverse=True)
    period = np.array([spec.steady_period(int(s)) for s in uniq])
    return folds * period[inv.reshape(stream.shape)]


def grid_cycles(spec: ArraySpec, lanes: int, size: tuple[int, int, int], tm: np.ndarray,
                tk: np.ndarray, tn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array cycles of a whole ``size = (M, K, N)`` GEMM per candidate tiling, edge tiles
    exact (no groups, no ``acc_depth``): ``(separate, merged, can_merge)``.

    ``separate``: every tile on its own (:func:`tile_cycles`); ``merged``: the tiles along the
    streamed dimension (WS: M, OS: K) run as one fold each (:func:`can_continue`), valid where
    ``can_merge``.
    """
    tiles = [np.asarray(t, dtype=np.int64) for t in (tm, tk, tn)]
    ws = spec.dataflow == "ws"
    s_dim = 0 if ws else 1
    if ws:
        ok = (-(-tiles[1] // lanes) <= spec.rows) & (tiles[2] <= spec.cols)
    else:
        ok = (tiles[0] <= spec.rows) & (tiles[2] <= spec.cols)

    def total(merge: bool) -> np.ndarray:
        parts = []
        for d in range(3):
            if merge and d == s_dim:
                one = np.ones_like(tiles[d])
                parts.append(((one * size[d], one), (one * size[d], one * 0)))
                continue
            q, rem = np.divmod(size[d], tiles[d])
            parts.append(((tiles[d], q), (rem, (rem > 0).astype(np.int64))))
        out = np.zeros(tiles[0].shape)
        for (sm, cm) in parts[0]:
            for (sk, ck) in parts[1]:
                for (sn, cn) in parts[2]:
                    cnt = cm * ck * cn
                    if cnt.any():
                        out += cnt * tile_cycles_np(spec, lanes, sm, sk, sn)
        return out

    sep = total(False)
    return sep, np.where(ok, total(True), sep), ok
