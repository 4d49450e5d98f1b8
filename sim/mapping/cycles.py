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
"""

from __future__ import annotations

from functools import lru_cache

from mixforge.hw.specs import ArraySpec

__all__ = ["tile_cycles", "tail_cycles", "gemm_compute_cycles"]


def _div_up(a: int, b: int) -> int:
    return -(-a // b)


def _eff(tk: int, lanes: int, group: int | None) -> tuple[int, int | None]:
    return _div_up(tk, lanes), (None if not group else _div_up(group, lanes))


@lru_cache(maxsize=65536)
def tile_cycles(spec: ArraySpec, lanes: int, tm: int, tk: int, tn: int,
                group: int | None = None) -> float:
    """Array occupancy (cycles) of one ``tm x tk x tn`` tile when tiles run back to back.

    ``group``: quantization group along K that ends a fold early (MixPE late dequantization).
    """
    ke, ge = _eff(tk, lanes, group)
    return float(sum(spec.steady_period(s) for s in spec.fold_streams(tm, ke, tn, ge)))


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
