"""Periodic extrapolation of a one-core GEMM with too many tiles to simulate one by one.

The tile sequence of a mapping repeats with every iteration of its outermost loop (the same
inner tiles, the same fetch pattern), and the DMA/compute pipeline is a max-plus linear system
(:mod:`mixforge.sim.engine.pipeline`), which becomes periodic after a short transient. So the
op is simulated with its outermost dimension cut to ``q`` and ``q + 1`` tiles, and every
result (cycles, compute cycles, DMA cycles, tiles, DRAM bytes, action counts) is extended
linearly by the per-iteration difference to the real number of full iterations (both
prefixes end with the real partial last tile, so the edge is simulated, not scaled). Time
and memory then depend on the inner loops only.
"""

from __future__ import annotations

import dataclasses
import math

from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.gemm import GemmTiming, Layout, simulate_gemm
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.mapper import Mapping
from mixforge.sim.mapping.ops import Gemm

__all__ = ["simulate_periodic", "PREFIX_ITERATIONS", "PREFIX_TILES"]

#: Outer-loop iterations simulated before extrapolating (transient + one period).
PREFIX_ITERATIONS = 2
#: Tiles the longer of the two prefixes may have (else the op is simulated whole).
PREFIX_TILES = 1 << 18


def _with_dim(op: Gemm, dim: str, size: int) -> Gemm:
    if dim == "m":
        return dataclasses.replace(op, m=size)
    if dim == "k":
        return dataclasses.replace(op, k=size)
    return dataclasses.replace(op, n=size)


def _lerp(a: float, b: float, f: float) -> float:
    return a + (b - a) * f


def _lerp_actions(a: ActionCounts, b: ActionCounts, f: float, op: Gemm) -> ActionCounts:
    fields = {fld.name: max(0, round(_lerp(getattr(a, fld.name), getattr(b, fld.name), f)))
              for fld in dataclasses.fields(ActionCounts) if fld.name != "macs"}
    return ActionCounts(macs=((op.w, op.a, op.macs),), **fields)


def simulate_periodic(arch: ArchConfig, op: Gemm, mp: Mapping,
                      layout: Layout = "tiled") -> GemmTiming | None:
    """``simulate_gemm`` extrapolated along the outermost loop (one core, batch 1); ``None``
    when that does not apply (several cores or batch elements, too few outer iterations, or
    a prefix above :data:`PREFIX_TILES` tiles)."""
    if arch.xpu.cores != 1 or op.batch != 1:
        return None
    d0 = mp.order[0]
    dim = {"m": op.m, "k": op.k, "n": op.n}[d0]
    tile = {"m": mp.tm, "k": mp.tk, "n": mp.tn}[d0]
    q = PREFIX_ITERATIONS
    iters = dim / tile
    per_iter = (-(-op.m // mp.tm) * -(-op.k // mp.tk) * -(-op.n // mp.tn)) / math.ceil(iters)
    if iters <= q + 2 or per_iter * (q + 1) > PREFIX_TILES:
        return None
    full, rem = divmod(dim, tile)  # the prefixes end with the real (partial) last tile
    a = simulate_gemm(arch, _with_dim(op, d0, q * tile + rem), mp, layout)
    b = simulate_gemm(arch, _with_dim(op, d0, (q + 1) * tile + rem), mp, layout)
    f = full - q
    return GemmTiming(
        cycles=math.ceil(_lerp(a.cycles, b.cycles, f) - 1e-9),
        compute_cycles=round(_lerp(a.compute_cycles, b.compute_cycles, f)),
        dma_cycles=_lerp(a.dma_cycles, b.dma_cycles, f),
        tiles=-(-op.m // mp.tm) * -(-op.k // mp.tk) * -(-op.n // mp.tn),
        active_cores=1, dram_bytes=round(_lerp(a.dram_bytes, b.dram_bytes, f)),
        actions=_lerp_actions(a.actions, b.actions, f, op), idle_cores=0)
