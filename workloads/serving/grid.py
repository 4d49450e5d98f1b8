"""Cost vectors and the token-count grid shared by the serving cost model's parts.

A cost vector is ``[seconds, energy by component, busy / FLOPs / DRAM bytes / energy per
unit]`` (:class:`CostVec` gives the layout); vectors add, so an iteration's cost is a sum of
cached pieces. Token counts above ``EXACT_T`` are simulated at geometric grid points (ratio
``GRID_RATIO``, multiples of 16) and linearly interpolated (:func:`gridded`).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from mixforge.sim.cost.energy import EnergyBreakdown
from mixforge.sim.engine.results import LayerResult, OpResult

__all__ = ["ENERGY_COMPONENTS", "EXACT_T", "GRID_RATIO", "CostVec", "grid", "grid1", "gridded"]

ENERGY_COMPONENTS = tuple(f.name for f in dataclasses.fields(EnergyBreakdown))
_NE = len(ENERGY_COMPONENTS)
EXACT_T = 16       # token-count ops simulated exactly up to this many tokens, then ...
GRID_RATIO = 1.25  # ... interpolated between geometric grid points (multiples of 16)


def _grid_edges(top: int = 1 << 20) -> np.ndarray:
    pts = set(range(EXACT_T + 1))
    x = float(EXACT_T)
    while x < top:
        x *= GRID_RATIO
        pts.add(-(-round(x) // 16) * 16)
    return np.array(sorted(pts), dtype=np.int64)


_EDGES = _grid_edges()
_EDGES_L = _EDGES.tolist()


def grid1(t: int) -> tuple[int, int, float]:
    """:func:`grid` of one count (a bisect: no NumPy call in the per-iteration path)."""
    i = bisect.bisect_left(_EDGES_L, t)
    hi = _EDGES_L[i]
    if hi == t:
        return t, t, 0.0
    lo = _EDGES_L[i - 1]
    return lo, hi, (t - lo) / (hi - lo)


def grid(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token counts -> grid points ``lo <= t <= hi`` and the weight of ``hi``: exact up to
    16 tokens, then geometric points (ratio 1.25, multiples of 16)."""
    t = np.asarray(t, dtype=np.int64)
    i = np.searchsorted(_EDGES, t)  # _EDGES[i] >= t
    hi = _EDGES[i]
    lo = np.where(hi == t, t, _EDGES[np.maximum(i - 1, 0)])
    f = np.where(hi > lo, (t - lo) / np.maximum(hi - lo, 1), 0.0)
    return lo, hi, f


class CostVec:
    """Index layout of a cost vector for ``n_units`` units."""

    def __init__(self, units: Sequence[str]) -> None:
        self.units = tuple(units)
        u = len(units)
        self.size = 1 + _NE + 4 * u
        self.busy = slice(1 + _NE, 1 + _NE + u)
        self.flops = slice(1 + _NE + u, 1 + _NE + 2 * u)
        self.bytes = slice(1 + _NE + 2 * u, 1 + _NE + 3 * u)
        self.uenergy = slice(1 + _NE + 3 * u, 1 + _NE + 4 * u)

    def of_op(self, r: OpResult, v: np.ndarray | None = None) -> np.ndarray:
        v = np.zeros(self.size) if v is None else v
        j = self.units.index(r.unit)
        e = r.energy
        v[1:1 + _NE] += [getattr(e, c) for c in ENERGY_COMPONENTS]
        v[self.busy.start + j] += r.seconds
        v[self.flops.start + j] += 2 * r.macs
        v[self.bytes.start + j] += r.dram_bytes
        v[self.uenergy.start + j] += r.energy_j
        return v

    def of(self, res: OpResult | LayerResult) -> np.ndarray:
        if isinstance(res, OpResult):
            v = self.of_op(res)
            v[0] = res.seconds
            return v
        v = np.zeros(self.size)
        for r in res.ops:
            self.of_op(r, v)
        v[0] = res.seconds
        if res.concurrent:
            for j, u in enumerate(self.units):
                v[self.busy.start + j] = res.unit_seconds.get(u, 0.0)
        x = res.extra_energy
        v[1:1 + _NE] += [getattr(x, c) for c in ENERGY_COMPONENTS]
        if x.total_j and "pim" in self.units:
            v[self.uenergy.start + self.units.index("pim")] += x.total_j
        return v


def gridded(fn: Callable[[int], np.ndarray], t: int) -> np.ndarray:
    """``fn(t)`` interpolated between the grid points around ``t``."""
    lo, hi, f = grid1(t)
    a = fn(lo)
    return a if hi == lo else a + f * (fn(hi) - a)
