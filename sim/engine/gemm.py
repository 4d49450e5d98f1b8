"""Tile-level timing of a mapped GEMM on the xPU: DMA (HBM model) overlapped with the array."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mixforge.models.formats import get_format
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.dram import TransferTime, transfer_time
from mixforge.sim.engine.pipeline import (
    MP_IDENTITY,
    chain_product,
    makespan,
    mp_power,
    tile_matrices,
)
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.cycles import tail_cycles, tile_cycles
from mixforge.sim.mapping.mapper import Mapping
from mixforge.sim.mapping.ops import Gemm
from mixforge.sim.mapping.reuse import core_trips, l2_demand, l2_hits
from mixforge.sim.mapping.tiles import TileSet, enumerate_tiles, gemm_actions, tensor_tile_bytes

__all__ = ["GemmTiming", "simulate_gemm", "Layout"]

Layout = Literal["tiled", "row_major"]


@dataclass(frozen=True)
class GemmTiming:
    """Timing of a GEMM on the xPU.

    Parameters
    ----------
    cycles
        Core cycles from the first DMA to the last output (all cores, batch included).
    compute_cycles
        Array cycles summed over all tiles (+ the array's tail): the op with an infinitely fast
        memory on one core. Equals ``ArraySpec.gemm_cycles`` for a one-tile mapping.
    dma_cycles
        DMA busy cycles of one core's sequence (what the memory alone would take).
    tiles
        Tiles simulated (all batch elements).
    active_cores
        Cores the op was spread over.
    """

    cycles: int
    compute_cycles: int
    dma_cycles: float
    tiles: int
    active_cores: int
    dram_bytes: int
    actions: ActionCounts


def _transfer(arch: ArchConfig, layout: Layout, rows: int, row_bytes: int,
              stride: int, total: int) -> TransferTime:
    if total <= 0:
        return TransferTime(0.0, 0.0, 0, 0)
    banks = arch.xpu_banks  # split bank bundles: the xPU's data is in its own banks
    if layout == "tiled":  # tensors stored tile-contiguous: one linear run per tile
        return transfer_time(arch.hbm, 1, total, total, 0, banks)
    return transfer_time(arch.hbm, rows, row_bytes, stride, 0, banks)


def _dram_fraction(ts: TileSet, order: str, deps: str, fetch: np.ndarray, gid: np.ndarray,
                   groups: int, l2_hit: bool) -> np.ndarray:
    """Per tile, the fraction of an operand fetch DRAM serves (the rest hits the shared L2)."""
    if ts.n == 0:
        return fetch.astype(np.float64)
    idx = {"m": ts.idx_m, "k": ts.idx_k, "n": ts.idx_n}
    d0, d1 = deps[0], deps[1]
    key = (gid.astype(np.int64) * ts.trips[d0] + idx[d0]) * ts.trips[d1] + idx[d1]
    first = np.zeros(ts.n, dtype=bool)
    first[np.unique(key, return_index=True)[1]] = True
    shared = groups > 1 and order[0] not in deps  # every core reads the same tiles
    f_first = 1.0 / groups if shared else 1.0
    f_again = 0.0 if l2_hit else f_first
    return np.where(fetch, np.where(first, f_first, f_again), 0.0)


def _l2_hits(arch: ArchConfig, ts: TileSet, order: str, tile_a: float, tile_b: float,
             groups: int, active: int) -> tuple[bool, bool]:
    l2 = arch.xpu.l2
    if l2 is None:
        return False, False
    trips = core_trips(order, {d: np.asarray(ts.trips[d]) for d in "mkn"}, groups)
    da = l2_demand(order, "mk", trips, tile_a, active)
    db = l2_demand(order, "kn", trips, tile_b, active)
    ha, hb = l2_hits(da, db, float(l2.size_bytes))
    return bool(ha), bool(hb)


def simulate_gemm(arch: ArchConfig, op: Gemm, mp: Mapping, layout: Layout = "tiled",
                  source: Literal["dram", "l2"] = "dram") -> GemmTiming:
    """Simulate ``op`` under mapping ``mp`` on ``arch``'s xPU, tile by tile (vectorised).

    ``source="l2"``: the A and B operands are resident in the shared L2 (one block of an
    L2-blocked GEMM, :mod:`mixforge.sim.engine.blocked`): every operand fetch is served by the
    L2 at its bandwidth shared by the active cores (``xpu.l2_multicast`` neighbouring cores
    share one read of the outer loop's operand tile); partial sums stay in the L2, outputs go
    to DRAM.
    """
    xpu, hbm = arch.xpu, arch.hbm
    spec, lanes = xpu.array, xpu.pe.lanes(op.w, op.a)
    ts = enumerate_tiles(op, mp)
    outer, outer_trips = ts.outer, ts.outer_trips
    share = {"mk": 1.0, "kn": 1.0}  # L2 reads per operand fetch (multicast to a cluster)
    if source == "l2" and mp.order[2] == "k":
        # an L2-resident block: cores take whole output tiles (both outer loops), and every
        # core fetches its operands from the shared L2
        idx = {"m": ts.idx_m, "n": ts.idx_n}
        o0, o1 = mp.order[0], mp.order[1]
        outer = idx[o0] * ts.trips[o1] + idx[o1]
        outer_trips = ts.trips[o0] * ts.trips[o1]
        # neighbouring cores share the tile of the outer loop's operand: one read per cluster
        c = min(xpu.l2_multicast, ts.trips[o1])
        share["mk" if o0 == "m" else "kn"] = 1.0 / c
    # late dequantization (MixPE): a quantization group ends a fold early in the array
    group = op.group_size if (op.group_size and xpu.pe.late_dequant) else None
    # -- how the op spreads over cores: whole GEMMs of the batch, else chunks of the outer loop
    if op.batch >= xpu.cores:
        groups, reps, active = 1, -(-op.batch // xpu.cores), xpu.cores
    else:
        groups = max(1, min(xpu.cores // op.batch, outer_trips))
        reps, active = 1, op.batch * groups
    to_cyc = xpu.freq_hz * 1e-9
    bits = {f: get_format(f).bits for f in (op.w, op.a, op.o or op.a)}
    occ = np.zeros(8)
    comp = np.zeros(8)
    t_a, t_b, t_op, t_of = (np.zeros(8) for _ in range(4))
    by_a, by_b, by_op, by_of = (np.zeros(8) for _ in range(4))
    act_a, act_b, act_op, act_of = (np.zeros(8) for _ in range(4))
    l2_a, l2_b, l2_o = np.zeros(8), np.zeros(8), np.zeros(8)  # logical tile bytes
    for cid in np.unique(ts.combo):
        tm, tk, tn = ts.shapes[cid]
        occ[cid] = tile_cycles(spec, lanes, tm, tk, tn, group)
        # SRAM ports: the array cannot run faster than its buffers deliver
        sram_in = tm * tk * bits[op.a] * math.ceil(tn / spec.cols) / xpu.sram.input.bits_per_cycle
        sram_w = tk * tn * bits[op.w] / xpu.sram.weight.bits_per_cycle
        sram_o = (tm * tn * xpu.pe.acc_bits * math.ceil(math.ceil(tk / lanes) / spec.rows)
                  / xpu.sram.output.bits_per_cycle)
        comp[cid] = max(occ[cid], sram_in, sram_w, sram_o)
        a, b, o_part, o_fin = tensor_tile_bytes(op, xpu.pe.acc_bits, tm, tk, tn)
        l2_a[cid], l2_b[cid], l2_o[cid] = a, b, o_part
        k_b = op.k * bits[op.w] // 8
        specs = (
            (t_a, by_a, act_a, tm, math.ceil(tk * bits[op.a] / 8), op.k * bits[op.a] // 8,
             a if op.a_in_dram else 0),
            (t_b, by_b, act_b, tn, math.ceil(tk * bits[op.w] / 8), k_b, b),
            (t_op, by_op, act_op, tm, math.ceil(tn * xpu.pe.acc_bits / 8),
             op.n * xpu.pe.acc_bits // 8, o_part),
            (t_of, by_of, act_of, tm, math.ceil(tn * bits[op.o or op.a] / 8),
             op.n * bits[op.o or op.a] // 8, o_fin if op.o_to_dram else 0),
        )
        for t_arr, by_arr, act_arr, rows, rb, stride, total in specs:
            tt = _transfer(arch, layout, rows, rb, stride, total)
            t_arr[cid] = tt.shared_ns(active, hbm.n_pcs) * to_cyc
            by_arr[cid] = tt.bursts * hbm.burst_bytes
            act_arr[cid] = tt.activations
    cb = ts.combo
    # -- per-core chunks of the tile sequence (contiguous ranges of the outermost loop)
    chunk = -(-outer_trips // groups)
    gid = outer // chunk
    # -- which operand fetches DRAM serves, and which the shared L2 (fractions per tile)
    fa = ts.fetch_a & op.a_in_dram
    if source == "l2" and xpu.l2 is not None:
        dram_a, dram_b = np.zeros(ts.n), np.zeros(ts.n)
    elif xpu.l2 is None:
        dram_a, dram_b = fa.astype(np.float64), ts.fetch_b.astype(np.float64)
    else:
        hit_a_l2, hit_b_l2 = _l2_hits(arch, ts, mp.order, float(l2_a.max()), float(l2_b.max()),
                                      groups, active)
        dram_a = _dram_fraction(ts, mp.order, "mk", fa, gid, groups, hit_a_l2)
        dram_b = _dram_fraction(ts, mp.order, "kn", ts.fetch_b, gid, groups, hit_b_l2)
    hit_a, hit_b = fa - dram_a, ts.fetch_b - dram_b
    l2_cyc = 0.0 if xpu.l2 is None else active / xpu.l2_bw_bytes_per_s * xpu.freq_hz
    # partial sums of an L2-resident block stay in the L2; otherwise they spill to DRAM
    ps_l2 = source == "l2" and xpu.l2 is not None
    t_ps = l2_o[cb] * l2_cyc if ps_l2 else t_op[cb]
    l2_read = hit_a * l2_a[cb] * share["mk"] + hit_b * l2_b[cb] * share["kn"]
    d_read = (dram_a * t_a[cb] + dram_b * t_b[cb] + ts.read_o * t_ps + l2_read * l2_cyc)
    d_write = ts.write_o * np.where(ts.final_o, t_of[cb], t_ps)
    c = comp[cb]
    # -- DMA/compute pipeline per core chunk, padded with max-plus identities
    shift = 2 if mp.double_buffer else 1
    starts = np.searchsorted(gid, np.arange(groups))
    pos = np.arange(ts.n) - starts[gid]
    lens = np.bincount(gid, minlength=groups)
    width = int(lens.max()) + shift
    d2 = np.zeros((groups, width))
    c2 = np.zeros((groups, width))
    d2[gid, pos] = d_read
    c2[gid, pos] = c
    np.add.at(d2, (gid, pos + shift), d_write)
    mats = tile_matrices(d2, c2, mp.double_buffer)
    mats[np.arange(width)[None, :] >= (lens + shift)[:, None]] = MP_IDENTITY
    prod = chain_product(mats)
    if reps > 1:
        prod = mp_power(prod, reps)
    span = float(makespan(prod).max())
    last = ts.shapes[int(cb[-1])]
    tail = tail_cycles(spec, lanes, *last, group)
    latency = (hbm.timing.t_rcd_ns + hbm.timing.t_cl_ns) * to_cyc
    cycles = math.ceil(span + tail + latency - 1e-9)
    dram_in_a = float(np.sum(dram_a * by_a[cb]))
    dram_in_w = float(np.sum(dram_b * by_b[cb]))
    l2_bytes = float(np.sum(l2_read))
    ps_by, ps_act = (np.zeros(8), np.zeros(8)) if ps_l2 else (by_op, act_op)
    if ps_l2:
        l2_bytes += float(np.sum((ts.read_o + ts.write_o * ~ts.final_o) * l2_o[cb]))
    out_b = float(np.sum(ts.read_o * ps_by[cb])
                  + np.sum(ts.write_o * np.where(ts.final_o, by_of[cb], ps_by[cb])))
    acts = float(np.sum(dram_a * act_a[cb] + dram_b * act_b[cb] + ts.read_o * ps_act[cb]
                        + ts.write_o * np.where(ts.final_o, act_of[cb], ps_act[cb])))
    dram_bytes = dram_in_a + dram_in_w + out_b
    actions = gemm_actions(op, xpu, ts, dram_in_w + float(np.sum(hit_b * l2_b[cb])),
                           dram_in_a + float(np.sum(hit_a * l2_a[cb])), dram_bytes, acts,
                           l2_bytes)
    compute = int(round(float(np.sum(occ[cb])) * op.batch + tail))
    per_core_dma = np.bincount(gid, weights=d_read + d_write, minlength=groups)
    return GemmTiming(cycles=cycles, compute_cycles=compute,
                      dma_cycles=float(per_core_dma.max()) * reps, tiles=ts.n * op.batch,
                      active_cores=active, dram_bytes=int(dram_bytes * op.batch), actions=actions)
