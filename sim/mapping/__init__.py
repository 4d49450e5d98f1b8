"""Operators, the mapper (tiling, loop order, double buffering) and action counts."""

from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.cycles import gemm_compute_cycles, tail_cycles, tile_cycles
from mixforge.sim.mapping.l2 import L2Blocking, map_l2
from mixforge.sim.mapping.mapper import ORDERS, Mapping, map_gemm
from mixforge.sim.mapping.ops import VECTOR_OPS_PER_ELEM, Attention, Gemm, MoeGate, Op, Vector, gemv

__all__ = ["ActionCounts", "Mapping", "map_gemm", "L2Blocking", "map_l2", "ORDERS", "Gemm",
           "Vector", "Attention", "MoeGate", "Op", "gemv", "VECTOR_OPS_PER_ELEM", "tile_cycles",
           "tail_cycles", "gemm_compute_cycles"]
