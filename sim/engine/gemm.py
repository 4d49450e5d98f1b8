"""Tile-level timing of a mapped GEMM on the xPU: DMA (HBM model) overlapped with the array."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mixforge.hw.specs import ArraySpec
from mixforge.models.formats import get_format
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.dram import TransferTime, transfer_time
from mixforge.sim.engine.pipeline import (
    MP_IDENTITY,
    chain_product,
    makespan,
    mp_mul,
    mp_power,
    tile_matrices,
)
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.cycles import can_continue, stream_cycles, tail_cycles, tile_cycles
from mixforge.sim.mapping.mapper import MAX_TILES, Mapping, rank_gemm
from mixforge.sim.mapping.ops import Gemm
from mixforge.sim.mapping.reuse import core_trips, l2_demand, l2_hits
from mixforge.sim.mapping.tiles import TileSet, enumerate_tiles, gemm_actions, tensor_tile_bytes

__all__ = ["GemmTiming", "simulate_gemm", "simulate_best", "Layout", "REFINE_TOP", "REFINE_TILES"]

#: Mapper candidates simulated per op (the estimate ranks them; the simulation decides) ...
REFINE_TOP = 8
#: ... each of at most this many tiles (the best-ranked one is always simulated).
REFINE_TILES = 20_000

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
        memory on one core. Equals ``ArraySpec.gemm_cycles`` for a one-tile mapping, and
        SCALE-Sim's single-pass count (``ArraySpec.gemm_cycles`` of the whole GEMM, no double
        buffering) for one-fold tiles whose runs along the streamed dimension merge.
    dma_cycles
        DMA busy cycles of one core's sequence (what the memory alone would take).
    tiles
        Tiles simulated (all batch elements).
    active_cores
        Cores that ran at least one tile.
    idle_cores
        Cores of the xPU that got no tile at all (``cores - active_cores``).
    """

    cycles: int
    compute_cycles: int
    dma_cycles: float
    tiles: int
    active_cores: int
    dram_bytes: int
    actions: ActionCounts
    idle_cores: int = 0


def _transfer(arch: ArchConfig, layout: Layout, rows: int, row_bytes: int,
              stride: int, total: int) -> TransferTime:
    if total <= 0:
        return TransferTime(0.0, 0.0, 0, 0)
    banks = arch.xpu_banks  # split bank bundles: the xPU's data is in its own banks
    if layout == "tiled":  # tensors stored tile-contiguous: one linear run per tile
        return transfer_time(arch.hbm, 1, total, total, 0, banks)
    return transfer_time(arch.hbm, rows, row_bytes, stride, 0, banks)


def _dram_fraction(ts: TileSet, deps: str, fetch: np.ndarray, gid: np.ndarray,
                   l2_hit: bool) -> np.ndarray:
    """Per tile, the fraction of an operand fetch DRAM serves (the rest hits the shared L2).

    Of the cores that need one operand tile, the first brings it from DRAM and the others find
    it in the L2: each core's first fetch of it costs ``1 / (cores fetching it)`` DRAM reads;
    its later re-fetches the same when the L2 cannot hold the re-fetch footprint, else none.
    """
    if ts.n == 0:
        return fetch.astype(np.float64)
    idx = {"m": ts.idx_m, "k": ts.idx_k, "n": ts.idx_n}
    d0, d1 = deps[0], deps[1]
    tile = idx[d0].astype(np.int64) * ts.trips[d1] + idx[d1]
    key = gid.astype(np.int64) * (ts.trips[d0] * ts.trips[d1]) + tile
    sel = np.flatnonzero(fetch)
    first = np.zeros(ts.n, dtype=bool)
    first[sel[np.unique(key[sel], return_index=True)[1]]] = True
    sharers = np.bincount(tile[first], minlength=ts.trips[d0] * ts.trips[d1])
    f_first = 1.0 / np.maximum(sharers[tile], 1)
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


def _balanced_groups(outer: np.ndarray, outer_trips: int, groups: int) -> np.ndarray:
    """Core of each tile: contiguous runs of the outer loop, ``floor`` or ``ceil`` of
    ``outer_trips / groups`` indices each, so every one of the ``groups`` cores gets work."""
    return (outer.astype(np.int64) * groups) // max(outer_trips, 1)


def _occupancy(spec: ArraySpec, lanes: int, ts: TileSet, cb: np.ndarray, gid: np.ndarray,
               group: int | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-tile array occupancy with fold runs merged (:func:`can_continue`), whether each tile
    (re)loads the stationary block, and the tail after the last run."""
    present = np.unique(cb)
    base = np.zeros(8)
    cont_ok = np.zeros(8, dtype=bool)
    s_eff = np.zeros(8)
    s_raw = np.zeros(8, dtype=np.int64)
    for cid in present:
        tm, tk, tn = ts.shapes[cid]
        base[cid] = tile_cycles(spec, lanes, tm, tk, tn, group)
        cont_ok[cid] = can_continue(spec, lanes, tm, tk, tn, group)
        s_eff[cid] = stream_cycles(spec, lanes, tm, tk)
        s_raw[cid] = tm if spec.dataflow == "ws" else tk
    ws = spec.dataflow == "ws"
    a0, a1 = (ts.idx_k, ts.idx_n) if ws else (ts.idx_m, ts.idx_n)
    cont = np.zeros(ts.n, dtype=bool)
    if ts.n > 1:
        cont[1:] = ((a0[1:] == a0[:-1]) & (a1[1:] == a1[:-1]) & (gid[1:] == gid[:-1])
                    & cont_ok[cb[1:]] & cont_ok[cb[:-1]])
    last = ts.shapes[int(cb[-1])]
    if not cont.any():
        return base[cb], np.ones(ts.n, dtype=bool), tail_cycles(spec, lanes, *last, group)
    head = ~cont
    run = np.cumsum(head) - 1
    total = np.bincount(run, weights=s_raw[cb]).astype(np.int64)
    cont_eff = np.bincount(run, weights=np.where(cont, s_eff[cb], 0.0))
    heads = np.flatnonzero(head)
    key = total * 8 + cb[heads]
    uniq, inv = np.unique(key, return_inverse=True)
    run_occ = np.empty(uniq.size)
    shape_of = {}
    for u, kv in enumerate(uniq):
        tm, tk, tn = ts.shapes[int(kv % 8)]
        s = int(kv // 8)
        shape = (s, tk, tn) if ws else (tm, s, tn)
        shape_of[u] = shape
        run_occ[u] = tile_cycles(spec, lanes, *shape, group)
    occ = np.where(cont, s_eff[cb], 0.0)
    occ[heads] = run_occ[inv] - cont_eff
    tail = tail_cycles(spec, lanes, *shape_of[int(inv[-1])], group)
    return occ, head, tail


def simulate_best(arch: ArchConfig, op: Gemm, xpu_bw_bytes_per_s: float,
                  layout: Layout = "tiled") -> tuple[GemmTiming, Mapping]:
    """Map ``op`` (:func:`~mixforge.sim.mapping.mapper.rank_gemm`) and simulate the
    :data:`REFINE_TOP` best-ranked mappings, keeping the fastest (ties: the better-ranked).

    The mapper's estimate uses peak bandwidth and whole waves; the simulation adds the DRAM
    model and the per-core pipelines (memory shared by the concurrently active cores), so on a
    multi-core xPU the final choice is made on simulated time (candidates of at most
    :data:`REFINE_TILES` tiles besides the first).
    """
    multi = arch.xpu.cores > 1  # one core: no sharing, the estimate ranks well enough
    cands = rank_gemm(op, arch.xpu, xpu_bw_bytes_per_s, top=REFINE_TOP if multi else 1)

    def n_tiles(mp: Mapping) -> int:
        return -(-op.m // mp.tm) * -(-op.k // mp.tk) * -(-op.n // mp.tn) * op.batch

    cands = cands[:1] + [mp for mp in cands[1:] if n_tiles(mp) <= REFINE_TILES]
    best: tuple[GemmTiming, Mapping] | None = None
    for mp in cands:
        g = None
        if n_tiles(mp) > MAX_TILES:  # periodic extrapolation along the outer loop
            from mixforge.sim.engine.extrapolate import simulate_periodic

            g = simulate_periodic(arch, op, mp, layout)
        if g is None:
            g = simulate_gemm(arch, op, mp, layout)
        if best is None or g.cycles < best[0].cycles:
            best = (g, mp)
    assert best is not None
    return best


def simulate_gemm(arch: ArchConfig, op: Gemm, mp: Mapping, layout: Layout = "tiled",
                  source: Literal["dram", "l2"] = "dram") -> GemmTiming:
    """Simulate ``op`` under mapping ``mp`` on ``arch``'s xPU, tile by tile (vectorised).

    Cores: a batch at least as large as the cores runs whole GEMMs per core in waves (the last
    wave partial); otherwise each batch element's outer loop is cut into balanced contiguous
    chunks over ``cores // batch`` cores. A tile's DMA shares the memory with the cores that
    hold a tile at the same position of their sequence (a partial last wave gets more
    bandwidth per core). Array occupancy follows ``ArraySpec`` per tile, with runs of tiles
    that keep the stationary block merged into one fold (:mod:`mixforge.sim.mapping.cycles`).

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
    if mp.order[2] == "k" and (source == "l2" or op.batch < xpu.cores):
        # K innermost: cores take whole output tiles (both outer loops, as a GPU's thread
        # blocks); in an L2-resident block every core fetches its operands from the shared L2
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
        last_wave = op.batch - (reps - 1) * xpu.cores
    else:
        groups = max(1, min(xpu.cores // op.batch, outer_trips))
        reps, active, last_wave = 1, op.batch * groups, op.batch
    to_cyc = xpu.freq_hz * 1e-9
    bits = {f: get_format(f).bits for f in (op.w, op.a, op.o or op.a)}
    cb = ts.combo
    # -- per-core chunks of the tile sequence (contiguous balanced ranges of the outer loop)
    gid = _balanced_groups(outer, outer_trips, groups)
    starts = np.searchsorted(gid, np.arange(groups))
    pos = np.arange(ts.n) - starts[gid]
    lens = np.bincount(gid, minlength=groups)
    occ, head, tail = _occupancy(spec, lanes, ts, cb, gid, group)
    sram_io = np.zeros(8)
    sram_w = np.zeros(8)
    alone = {n: np.zeros(8) for n in ("a", "b", "op", "of")}
    busy = {n: np.zeros(8) for n in ("a", "b", "op", "of")}
    nbytes = {n: np.zeros(8) for n in ("a", "b", "op", "of")}
    acts = {n: np.zeros(8) for n in ("a", "b", "op", "of")}
    l2_a, l2_b, l2_o = np.zeros(8), np.zeros(8), np.zeros(8)  # logical tile bytes
    for cid in np.unique(cb):
        tm, tk, tn = ts.shapes[cid]
        # SRAM ports: the array cannot run faster than its buffers deliver
        sram_in = tm * tk * bits[op.a] * math.ceil(tn / spec.cols) / xpu.sram.input.bits_per_cycle
        sram_w[cid] = tk * tn * bits[op.w] / xpu.sram.weight.bits_per_cycle
        sram_o = (tm * tn * xpu.pe.acc_bits * math.ceil(math.ceil(tk / lanes) / spec.rows)
                  / xpu.sram.output.bits_per_cycle)
        sram_io[cid] = max(sram_in, sram_o)
        a, b, o_part, o_fin = tensor_tile_bytes(op, xpu.pe.acc_bits, tm, tk, tn)
        l2_a[cid], l2_b[cid], l2_o[cid] = a, b, o_part
        k_b = op.k * bits[op.w] // 8
        specs = (
            ("a", tm, math.ceil(tk * bits[op.a] / 8), op.k * bits[op.a] // 8,
             a if op.a_in_dram else 0),
            ("b", tn, math.ceil(tk * bits[op.w] / 8), k_b, b),
            ("op", tm, math.ceil(tn * xpu.pe.acc_bits / 8), op.n * xpu.pe.acc_bits // 8, o_part),
            ("of", tm, math.ceil(tn * bits[op.o or op.a] / 8), op.n * bits[op.o or op.a] // 8,
             o_fin if op.o_to_dram else 0),
        )
        for name, rows, rb, stride, total in specs:
            tt = _transfer(arch, layout, rows, rb, stride, total)
            alone[name][cid] = tt.t_alone_ns * to_cyc
            busy[name][cid] = tt.busy_pc_ns / hbm.n_pcs * to_cyc
            nbytes[name][cid] = tt.bursts * hbm.burst_bytes
            acts[name][cid] = tt.activations
    # the stationary block is read from SRAM only when a run of tiles (re)loads it
    c = np.maximum(occ, np.maximum(sram_io[cb], sram_w[cb] * head))
    # -- which operand fetches DRAM serves, and which the shared L2 (fractions per tile)
    fa = ts.fetch_a & op.a_in_dram
    fb = ts.fetch_b.copy()
    if groups > 1:  # a core's first tile fetches its operands whatever the previous core held
        fa[starts] = op.a_in_dram
        fb[starts] = True
    if source == "l2" and xpu.l2 is not None:
        dram_a, dram_b = np.zeros(ts.n), np.zeros(ts.n)
    elif xpu.l2 is None:
        dram_a, dram_b = fa.astype(np.float64), fb.astype(np.float64)
    else:
        hit_a_l2, hit_b_l2 = _l2_hits(arch, ts, mp.order, float(l2_a.max()), float(l2_b.max()),
                                      groups, active)
        dram_a = _dram_fraction(ts, "mk", fa, gid, hit_a_l2)
        dram_b = _dram_fraction(ts, "kn", fb, gid, hit_b_l2)
    hit_a, hit_b = fa - dram_a, fb - dram_b
    # partial sums of an L2-resident block stay in the L2; otherwise they spill to DRAM
    ps_l2 = source == "l2" and xpu.l2 is not None
    l2_read = hit_a * l2_a[cb] * share["mk"] + hit_b * l2_b[cb] * share["kn"]
    # cores holding a tile at each position of their sequence (they share memory and L2)
    conc = groups - np.searchsorted(np.sort(lens), pos, side="right")

    def dma(sharers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        def t(name: str) -> np.ndarray:
            return np.maximum(alone[name][cb], sharers * busy[name][cb])

        l2_cyc = 0.0 if xpu.l2 is None else sharers / xpu.l2_bw_bytes_per_s * xpu.freq_hz
        t_ps = l2_o[cb] * l2_cyc if ps_l2 else t("op")
        rd = dram_a * t("a") + dram_b * t("b") + ts.read_o * t_ps + l2_read * l2_cyc
        wr = ts.write_o * np.where(ts.final_o, t("of"), t_ps)
        return rd, wr

    # -- DMA/compute pipeline per core chunk, padded with max-plus identities
    shift = 2 if mp.double_buffer else 1
    width = int(lens.max()) + shift

    def chain(sharers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d_read, d_write = dma(sharers)
        d2 = np.zeros((groups, width))
        c2 = np.zeros((groups, width))
        d2[gid, pos] = d_read
        c2[gid, pos] = c
        np.add.at(d2, (gid, pos + shift), d_write)
        mats = tile_matrices(d2, c2, mp.double_buffer)
        mats[np.arange(width)[None, :] >= (lens + shift)[:, None]] = MP_IDENTITY
        return chain_product(mats), d_read + d_write

    if reps > 1:  # whole GEMMs per core in waves of all cores, the last wave partial
        full, d_all = chain(np.full(ts.n, float(xpu.cores)))
        lastp, _ = chain(np.full(ts.n, float(last_wave)))
        prod = mp_mul(lastp, mp_power(full, reps - 1))
    else:
        prod, d_all = chain(conc.astype(np.float64) * op.batch)
    span = float(makespan(prod).max())
    latency = (hbm.timing.t_rcd_ns + hbm.timing.t_cl_ns) * to_cyc
    cycles = math.ceil(span + tail + latency - 1e-9)
    by_a, by_b, by_op, by_of = nbytes["a"], nbytes["b"], nbytes["op"], nbytes["of"]
    dram_in_a = float(np.sum(dram_a * by_a[cb]))
    dram_in_w = float(np.sum(dram_b * by_b[cb]))
    l2_bytes = float(np.sum(l2_read))
    ps_by, ps_act = (np.zeros(8), np.zeros(8)) if ps_l2 else (by_op, acts["op"])
    if ps_l2:
        l2_bytes += float(np.sum((ts.read_o + ts.write_o * ~ts.final_o) * l2_o[cb]))
    out_b = float(np.sum(ts.read_o * ps_by[cb])
                  + np.sum(ts.write_o * np.where(ts.final_o, by_of[cb], ps_by[cb])))
    n_acts = float(np.sum(dram_a * acts["a"][cb] + dram_b * acts["b"][cb]
                          + ts.read_o * ps_act[cb]
                          + ts.write_o * np.where(ts.final_o, acts["of"][cb], ps_act[cb])))
    dram_bytes = dram_in_a + dram_in_w + out_b
    actions = gemm_actions(op, xpu, ts, dram_in_w + float(np.sum(hit_b * l2_b[cb])),
                           dram_in_a + float(np.sum(hit_a * l2_a[cb])), dram_bytes, n_acts,
                           l2_bytes)
    compute = int(round(float(np.sum(occ)) * op.batch + tail))
    per_core_dma = np.bincount(gid, weights=d_all, minlength=groups)
    busy_cores = min(xpu.cores, op.batch * int(np.count_nonzero(lens)))
    return GemmTiming(cycles=cycles, compute_cycles=compute,
                      dma_cycles=float(per_core_dma.max()) * reps, tiles=ts.n * op.batch,
                      active_cores=busy_cores, dram_bytes=int(dram_bytes * op.batch),
                      actions=actions, idle_cores=xpu.cores - busy_cores)
