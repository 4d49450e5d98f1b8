"""An L2-blocked GEMM: blocks from DRAM into the L2, core tiles from the L2 into the cores.

The outer level (:mod:`mixforge.sim.mapping.l2`) visits ``bm x K x bn`` blocks in its order.
Each block is simulated tile by tile by :func:`~mixforge.sim.engine.gemm.simulate_gemm` with
its operands in the L2 (``source="l2"``; the cores share the block's output tiles, outputs go to
DRAM). A block's new panels come from DRAM (the HBM model, full memory-system bandwidth) in
``K_SLICE`` steps that overlap the block's computation, slice by slice: the same double-buffered
max-plus pipeline as the tiles (:mod:`mixforge.sim.engine.pipeline`) over (block, slice) steps
with the block's DMA and compute times split evenly over its slices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.dram import transfer_time
from mixforge.sim.engine.gemm import GemmTiming, Layout, simulate_gemm
from mixforge.sim.engine.pipeline import chain_product, makespan, tile_matrices
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.l2 import K_SLICE, L2Blocking, block_bytes
from mixforge.sim.mapping.mapper import Mapping
from mixforge.sim.mapping.ops import Gemm

__all__ = ["simulate_blocked"]

_RUN = 1 << 16  # bytes per run when streaming a panel through the DRAM model


def simulate_blocked(arch: ArchConfig, op: Gemm, blk: L2Blocking,
                     inner_map: Callable[[Gemm], Mapping], layout: Layout = "tiled"
                     ) -> tuple[GemmTiming, Mapping]:
    """Simulate ``op`` (batch 1) cut into L2 blocks ``blk``; returns the timing and the core
    tile mapping of the first (largest) block."""
    hbm, freq = arch.hbm, arch.xpu.freq_hz
    tm, tn = blk.trips(op)
    rows = [min(blk.bm, op.m - i * blk.bm) for i in range(tm)]
    cols = [min(blk.bn, op.n - j * blk.bn) for j in range(tn)]
    inner: dict[tuple[int, int], tuple[GemmTiming, Mapping]] = {}
    fetch: dict[tuple[int, int], tuple[float, int, int]] = {}

    def block(r: int, c: int) -> tuple[GemmTiming, Mapping]:
        if (r, c) not in inner:
            sub = dataclasses.replace(op, m=r, n=c, name=f"{op.name}.l2block")
            mp = inner_map(sub)
            inner[(r, c)] = (simulate_gemm(arch, sub, mp, layout, source="l2"), mp)
        return inner[(r, c)]

    def load(nbytes: int) -> tuple[float, int, int]:  # cycles, bus bytes, activations
        if nbytes <= 0:
            return 0.0, 0, 0
        key = (nbytes, 0)
        if key not in fetch:  # a contiguous panel: whole runs (simulated on a prefix) + the rest
            full, rest = divmod(nbytes, _RUN)
            parts = [transfer_time(hbm, full, _RUN, _RUN, 0, arch.xpu_banks)] if full else []
            if rest:
                parts.append(transfer_time(hbm, 1, rest, rest, full * _RUN, arch.xpu_banks))
            fetch[key] = (sum(tt.t_alone_ns for tt in parts) * 1e-9 * freq,
                          sum(tt.bursts for tt in parts) * hbm.burst_bytes,
                          sum(tt.activations for tt in parts))
        return fetch[key]

    seq = ([(i, j) for i in range(tm) for j in range(tn)] if blk.order == "mn"
           else [(i, j) for j in range(tn) for i in range(tm)])
    d = np.zeros(len(seq))
    c = np.zeros(len(seq))
    bus = acts = 0
    compute = tiles = 0
    dma_inner = 0.0
    actions = ActionCounts()
    prev: tuple[int, int] | None = None
    for t, (i, j) in enumerate(seq):
        a_bytes, b_bytes = block_bytes(op, rows[i], cols[j])
        need = (a_bytes if prev is None or prev[0] != i else 0) \
            + (b_bytes if prev is None or prev[1] != j else 0)
        cyc, nb, na = load(need)
        d[t] = cyc
        bus += nb
        acts += na
        g, _ = block(rows[i], cols[j])
        c[t] = g.cycles
        compute += g.compute_cycles
        tiles += g.tiles
        dma_inner += g.dma_cycles
        actions = actions + g.actions
        prev = (i, j)
    # panels stream in K slices: slice s of a block's fetch overlaps the compute of slice s-1
    slices = max(1, -(-op.k // K_SLICE))
    span = float(makespan(chain_product(tile_matrices(np.repeat(d / slices, slices),
                                                      np.repeat(c / slices, slices), True))))
    fetched = ActionCounts(dram_bits=bus * 8, sram_l2_bits=bus * 8, row_activations=acts)
    actions = actions + fetched
    timing = GemmTiming(cycles=math.ceil(span - 1e-9), compute_cycles=compute,
                        dma_cycles=max(float(d.sum()), dma_inner), tiles=tiles,
                        active_cores=max(g.active_cores for g, _ in inner.values()),
                        idle_cores=min(g.idle_cores for g, _ in inner.values()),
                        dram_bytes=bus + sum(inner[(rows[i], cols[j])][0].dram_bytes
                                             for i, j in seq),
                        actions=actions)
    return timing, inner[(rows[0], cols[0])][1]
