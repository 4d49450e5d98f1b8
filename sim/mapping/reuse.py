"""Operand reuse through a shared last-level buffer (L2): which re-fetches stay on chip.

A tensor's tile is re-fetched when a loop it does not depend on, outside its innermost
dependent loop, moves on. Between two uses of the same tile the loops inside that loop sweep
the tensor's *footprint*: ``tile bytes x trips of the dependent loops inside it``. The L2 must
hold the footprint times the cores that sweep their own copy (its *demand*), or LRU thrashes on
the cyclic sweep and every re-fetch goes to DRAM. A and B compete for the capacity: both hit
when their demands fit together, else the one with the smaller demand that fits. Cores that split
an outer loop a tensor does not depend on read the same tiles at about the same time: the first
brings a tile from DRAM, the others find it in the L2.
"""

from __future__ import annotations

import numpy as np

__all__ = ["refetch_footprint", "core_trips", "l2_demand", "l2_hits"]


def refetch_footprint(order: str, deps: str, trips: dict[str, np.ndarray],
                      tile_bytes: np.ndarray | float) -> np.ndarray:
    """Bytes swept between two uses of one tile of a tensor depending on loops ``deps``.

    ``trips`` are one core's trip counts. ``0`` when the tensor is never re-fetched (every loop
    it does not depend on, outside its innermost dependent loop, has one trip).
    """
    inner = max(order.index(d) for d in deps)
    base = np.asarray(tile_bytes, dtype=np.float64) * np.ones_like(trips["m"], dtype=np.float64)
    out = np.zeros_like(base)
    for p in range(inner - 1, -1, -1):  # the outermost re-fetching loop wins
        if order[p] in deps:
            continue
        foot = base.copy()
        for pos, loop in enumerate(order):
            if pos > p and loop in deps:
                foot = foot * trips[loop]
        out = np.where(trips[order[p]] > 1, foot, out)
    return out


def core_trips(order: str, trips: dict[str, np.ndarray], groups: np.ndarray | int
               ) -> dict[str, np.ndarray]:
    """One core's trip counts when ``groups`` cores split the outermost loop."""
    out = dict(trips)
    out[order[0]] = -(-np.asarray(trips[order[0]]) // np.maximum(groups, 1))
    return out


def l2_demand(order: str, deps: str, trips: dict[str, np.ndarray],
              tile_bytes: np.ndarray | float, cores: np.ndarray | int) -> np.ndarray:
    """L2 bytes needed for the tensor's re-fetches to hit, over all ``cores`` (``trips`` are one
    core's)."""
    shared = order[0] not in deps
    return refetch_footprint(order, deps, trips, tile_bytes) * np.where(shared, 1, cores)


def l2_hits(demand_a: np.ndarray, demand_b: np.ndarray, capacity: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Whether A's and B's re-fetches hit an L2 of ``capacity`` bytes (see module doc)."""
    fit_a, fit_b = demand_a <= capacity, demand_b <= capacity
    both = demand_a + demand_b <= capacity
    hit_a = both | (fit_a & ((demand_a <= demand_b) | ~fit_b))
    hit_b = both | (fit_b & ~hit_a)
    return hit_a, hit_b
