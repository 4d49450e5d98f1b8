"""One parameterised mapper: tile sizes, loop order and double buffering for a GEMM on an array.

The dataflow decides which GEMM dimensions are spatial (WS: K on rows, N on columns, M streamed;
OS: M on rows, N on columns, K streamed); everything else is shared. Candidates are scored
analytically and in one vectorised pass (traffic from loop-order reuse, compute from the array
spec, SRAM capacity as a hard constraint); the engine then simulates the best few tile by tile.

Compute estimates follow ``ArraySpec`` per tile (edges exact), merge one-fold tiles that keep
the stationary block along the streamed dimension (:mod:`mixforge.sim.mapping.cycles`), and
count whole waves: the busiest core runs ``ceil(outer / cores)`` of the outer loop's indices
(with K innermost, cores take whole output tiles, so the outer loop is the M x N tile grid).
Tile sides include ones that make close to whole waves over the device's cores.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from mixforge.errors import ConfigError
from mixforge.hw.specs import ArraySpec
from mixforge.models.formats import get_format
from mixforge.sim.arch.xpu import XpuConfig
from mixforge.sim.mapping.cycles import can_continue, grid_cycles, tile_cycles
from mixforge.sim.mapping.ops import Gemm
from mixforge.sim.mapping.reuse import core_trips, l2_demand, l2_hits

__all__ = ["Mapping", "map_gemm", "rank_gemm", "tile_buffer_bytes", "ORDERS"]

#: Tiles above which the simulation's time and memory grow too large: a near-best mapping
#: with fewer tiles is then preferred even at more array cycles.
MAX_TILES = 1 << 16

#: Loop orders, outermost first.
ORDERS = tuple("".join(p) for p in itertools.permutations("mkn"))


@dataclass(frozen=True)
class Mapping:
    """Tiling of a GEMM.

    Parameters
    ----------
    tm, tk, tn
        Tile sizes (the last tile of a dimension may be smaller).
    order
        Tile loop order, outermost first (``"nkm"``: N outermost, M innermost).
    double_buffer
        SRAM ping-pong: the DMA of tile ``i+1`` overlaps the compute of tile ``i``.
    l2_bm, l2_bn, l2_order
        Outer L2 blocking (:mod:`mixforge.sim.mapping.l2`): ``l2_bm x K x l2_bn`` blocks in
        ``l2_order``; the tile sizes above are those of the (first) block. ``0`` / ``""``: none.
    """

    tm: int
    tk: int
    tn: int
    order: str = "nkm"
    double_buffer: bool = True
    l2_bm: int = 0
    l2_bn: int = 0
    l2_order: str = ""

    def __post_init__(self) -> None:
        if sorted(self.order) != ["k", "m", "n"]:
            raise ConfigError(f"must be a permutation of 'mkn', not {self.order!r}", path="order")
        for name in ("tm", "tk", "tn"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"must be positive, not {getattr(self, name)}", path=name)


def _bits(fmt: str | None) -> int:
    return get_format(fmt or "int8").bits


def tile_buffer_bytes(op: Gemm, xpu: XpuConfig, tm: np.ndarray | int, tk: np.ndarray | int,
                      tn: np.ndarray | int, double_buffer: np.ndarray | bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytes the weight, input and output buffers need for a tile (x2 when double-buffered)."""
    mult = np.where(double_buffer, 2, 1)
    w = np.ceil(np.asarray(tk) * tn * _bits(op.w) / 8)
    if op.group_size:
        w = w + np.ceil(np.ceil(np.asarray(tk) / op.group_size) * tn * _bits(op.scale_fmt) / 8)
    a = np.ceil(np.asarray(tm) * tk * _bits(op.a) / 8)
    o = np.ceil(np.asarray(tm) * tn * xpu.pe.acc_bits / 8)
    return w * mult, a * mult, o * mult


def _sizes(dim: int, unit: int, limit: int = 6, step: int = 4) -> list[int]:
    vals: list[int] = []
    s = unit
    while s < dim and len(vals) < limit - 1:
        vals.append(s)
        s *= step
    vals.append(dim)
    return vals


def _wave_sizes(dim: int, unit: int, cores: int, batch: int, waves: int = 4) -> list[int]:
    """Tile sides (multiples of ``unit``) that cut ``dim`` into close to a whole number of waves
    over the cores a batch element gets: ``unit * ceil(units / (cores * w))``, ``w = 1..4``."""
    per = cores // max(batch, 1)
    if per <= 1:
        return []
    units = -(-dim // unit)
    return sorted({min(dim, unit * -(-units // (per * w))) for w in range(1, waves + 1)})


def _wave_pairs(dim: int, unit: int, other: int, other_sides: list[int], cores: int,
                batch: int, waves: int = 3) -> set[int]:
    """Sides along ``dim`` that, with each side of the other output dimension, make close to a
    whole number of waves of output tiles over the cores (cores taking whole output tiles)."""
    per = cores // max(batch, 1)
    if per <= 1:
        return set()
    units = -(-dim // unit)
    out = set()
    for side in other_sides:
        trips = -(-other // side)
        for w in range(1, waves + 1):
            want = max(1, (w * per) // trips)
            out.add(min(dim, unit * -(-units // want)))
    return out


def _refetch(order: str, deps: str, trips: dict[str, np.ndarray]) -> np.ndarray:
    """How often a tensor depending on loops ``deps`` is re-read: the trip counts of the loops
    outside its innermost dependent loop that it does not depend on."""
    inner = max(order.index(d) for d in deps)
    f = np.ones_like(trips["m"])
    for pos, loop in enumerate(order):
        if pos < inner and loop not in deps:
            f = f * trips[loop]
    return f


def _dram_reads(xpu: XpuConfig, order: str, trips: dict[str, np.ndarray], tile_a: np.ndarray,
                tile_b: np.ndarray, cores: np.ndarray, use_l2: bool = True
                ) -> tuple[np.ndarray, np.ndarray]:
    """DRAM reads of A and B over all cores, in units of the tensors' sizes.

    ``cores`` split the outermost loop. A tensor that does not depend on it is read by every
    core (once per core without an L2, once in all with one); re-fetches inside a core come
    from the L2 when the demands fit (:mod:`mixforge.sim.mapping.reuse`).
    """
    tc = core_trips(order, trips, cores)
    out = []
    hits = (np.zeros(cores.shape, dtype=bool),) * 2
    l2 = xpu.l2 if use_l2 else None
    if l2 is not None:
        hits = l2_hits(l2_demand(order, "mk", tc, tile_a, cores),
                       l2_demand(order, "kn", tc, tile_b, cores), float(l2.size_bytes))
    for deps, hit in (("mk", hits[0]), ("kn", hits[1])):
        r = _refetch(order, deps, tc).astype(np.float64)
        copies = np.where(order[0] in deps, 1, cores)  # cores reading the whole tensor
        if l2 is None:
            out.append(r * copies)
        else:
            out.append(np.where(hit, 1.0, r))
    return out[0], out[1]


def map_gemm(op: Gemm, xpu: XpuConfig, bw_bytes_per_s: float,
             orders: tuple[str, ...] = ORDERS, split_outputs: bool = False) -> Mapping:
    """The best-ranked mapping of :func:`rank_gemm`."""
    return rank_gemm(op, xpu, bw_bytes_per_s, orders, split_outputs)[0]


def rank_gemm(op: Gemm, xpu: XpuConfig, bw_bytes_per_s: float,
              orders: tuple[str, ...] = ORDERS, split_outputs: bool = False,
              top: int = 1) -> list[Mapping]:
    """Choose tile sizes, loop order and double buffering for ``op`` on ``xpu``.

    Minimises the estimated time ``max(compute, traffic / bw)`` (or their sum without double
    buffering); compute counts whole waves of the outer loop over the cores. Returns the
    ``top`` best candidates, best first (for the engine to simulate and pick from). Raises
    ``ConfigError`` when not even the smallest tile fits the SRAM buffers. ``orders`` limits
    the loop orders tried; ``split_outputs``: cores take whole output tiles (the two outer
    loops, an L2-resident block), not chunks of the outermost loop.
    """
    lanes = xpu.pe.lanes(op.w, op.a)
    spec = xpu.array
    r, c = spec.rows, spec.cols
    group = op.group_size if (op.group_size and xpu.pe.late_dequant) else None
    k_unit = r * lanes if spec.dataflow == "ws" else 16 * lanes
    if group:  # keep K tiles group-aligned so folds split at group boundaries as in the RTL
        k_unit = math.lcm(k_unit, group)
    # output tile sides in steps of 2 (the output buffer bounds their product), K in steps of 4,
    # plus sides that spread the tiles evenly over the cores in 1..4 waves
    if spec.dataflow == "ws":
        cm = _sizes(op.m, 16, 9, 2) + _wave_sizes(op.m, 16, xpu.cores, op.batch)
        ck, cn = _sizes(op.k, k_unit), _sizes(op.n, c, 7, 2) + _wave_sizes(op.n, c, xpu.cores,
                                                                            op.batch)
    else:
        cm = _sizes(op.m, r, 7, 2) + _wave_sizes(op.m, r, xpu.cores, op.batch)
        ck, cn = _sizes(op.k, k_unit), _sizes(op.n, c, 7, 2) + _wave_sizes(op.n, c, xpu.cores,
                                                                            op.batch)
    um = 16 if spec.dataflow == "ws" else r
    cm, cn = sorted(set(cm) | _wave_pairs(op.m, um, op.n, cn, xpu.cores, op.batch)), \
        sorted(set(cn) | _wave_pairs(op.n, c, op.m, cm, xpu.cores, op.batch))
    grid = np.array(list(itertools.product(cm, ck, cn, (True, False))), dtype=np.int64)
    tm, tk, tn, db = grid[:, 0], grid[:, 1], grid[:, 2], grid[:, 3].astype(bool)
    wb, ab, ob = tile_buffer_bytes(op, xpu, tm, tk, tn, db)
    fits = ((wb <= xpu.sram.weight.size_bytes) & (ab <= xpu.sram.input.size_bytes)
            & (ob <= xpu.sram.output.size_bytes))
    if not fits.any():
        w0, a0, o0 = (int(x) for x in tile_buffer_bytes(op, xpu, min(cm), min(ck), min(cn), False))
        raise ConfigError(
            f"{op.name} ({op.m}x{op.k}x{op.n}, w={op.w} a={op.a}): the smallest tile needs "
            f"{w0} / {a0} / {o0} B of weight / input / output SRAM, the core has "
            f"{xpu.sram.weight.size_bytes} / {xpu.sram.input.size_bytes} / "
            f"{xpu.sram.output.size_bytes} B", path="xpu.sram")
    tm, tk, tn, db, wb, ab = tm[fits], tk[fits], tn[fits], db[fits], wb[fits], ab[fits]
    trips = {"m": -(-op.m // tm), "k": -(-op.k // tk), "n": -(-op.n // tn)}
    n_tiles = trips["m"] * trips["k"] * trips["n"]
    stream = "m" if spec.dataflow == "ws" else "k"
    comp_tiles, comp_runs, mergeable = _array_cycles(op, spec, lanes, group, tm, tk, tn, stream)
    a_total = math.ceil(op.m * op.k * _bits(op.a) / 8) if op.a_in_dram else 0
    b_total = math.ceil(op.k * op.n * _bits(op.w) / 8)
    if op.group_size:
        b_total += math.ceil(op.groups_k * op.n * _bits(op.scale_fmt) / 8)
    o_final = math.ceil(op.m * op.n * _bits(op.o) / 8) if op.o_to_dram else 0
    o_part = op.m * op.n * xpu.pe.acc_bits / 8
    tile_a = tm * tk * _bits(op.a) / 8.0
    tile_b = tk * tn * _bits(op.w) / 8.0
    rows: list[tuple[np.ndarray, ...]] = []
    for oi, order in enumerate(ORDERS):
        if order not in orders:
            continue
        outer = trips[order[0]] * op.batch
        whole = order[2] == "k" and (split_outputs or op.batch < xpu.cores)
        if whole:  # K innermost: cores take whole output tiles (both outer loops)
            outer = outer * trips[order[1]]
        cores = np.minimum(xpu.cores, outer)
        # tiles that keep the stationary block run as one fold when every loop inside the
        # streamed loop has one trip (:func:`mixforge.sim.mapping.cycles.can_continue`)
        inner = order[order.index(stream) + 1:]
        merge = mergeable & np.all([trips[d] == 1 for d in inner], axis=0) if inner \
            else mergeable
        total = np.where(merge, comp_runs, comp_tiles) * op.batch
        # whole waves: the busiest core runs ceil(outer / cores) of the outer loop's indices
        comp_core = total * (-(-outer // cores)) / outer / xpu.freq_hz
        ra, rb = _dram_reads(xpu, order, trips, tile_a, tile_b, cores)
        ko = _refetch(order, "mn", trips)  # > 1 iff K is split outside the output's loops
        if split_outputs:
            # an L2-resident block: every operand tile fetch is L2 traffic (``bw`` is the L2's);
            # clusters of neighbouring cores share one read of the outer loop's operand
            mc = np.minimum(xpu.l2_multicast, trips[order[1]])
            traffic = (a_total * _refetch(order, "mk", trips) / np.where(order[0] == "m", mc, 1)
                       + b_total * _refetch(order, "kn", trips)
                       / np.where(order[0] == "n", mc, 1)) * op.batch
            mem_s = traffic / bw_bytes_per_s
        else:
            traffic = (a_total * ra + b_total * rb + o_final
                       + np.where(ko > 1, (2 * ko - 2) * o_part, 0.0)) * op.batch
            ra0, rb0 = _dram_reads(xpu, order, trips, tile_a, tile_b, cores, use_l2=False)
            if whole:
                # every output tile reads its A row panel and B column panel; with an L2 the
                # first core to need a tile brings it from DRAM, the others hit the L2
                ra0, rb0 = trips["n"].astype(np.float64), trips["m"].astype(np.float64)
                one = np.ones_like(ra0) if xpu.l2 is not None else None
                ra, rb = (one, one) if one is not None else (ra0, rb0)
                traffic = (a_total * ra + b_total * rb + o_final) * op.batch
            on_chip = (a_total * (ra0 - ra) + b_total * (rb0 - rb)) * op.batch
            mem_s = traffic / bw_bytes_per_s
            if xpu.l2 is not None:
                mem_s = np.maximum(mem_s, on_chip / xpu.l2_bw_bytes_per_s)
        fill_s = (wb + ab) / 2 / (bw_bytes_per_s / cores)
        est = np.where(db, np.maximum(comp_core, mem_s) + fill_s, comp_core + mem_s)
        rows.append((est, np.round(total), n_tiles * op.batch, traffic,
                     np.full(est.shape, oi), np.arange(est.size)))
    est, comp, tiles, traffic, ois, idx = (np.concatenate(x) for x in zip(*rows, strict=True))
    # within 2% of the best estimate (the estimate is not finer than that): the fewest array
    # cycles, then the fewest tiles (cheaper to simulate), then the least traffic; at most
    # MAX_TILES tiles when such a mapping is near
    near = est <= est.min() * 1.02
    # a mapping of more than MAX_TILES tiles is simulated only when nothing near is smaller
    small = tiles <= MAX_TILES
    if (near & small).any():
        ranked = np.lexsort((traffic, tiles, comp, ~(near & small)))
    else:  # every near mapping is large: the fewest tiles
        ranked = np.lexsort((traffic, comp, tiles, ~near))
    out = [int(ranked[0])]
    seen = {(int(tm[idx[out[0]]]), int(tn[idx[out[0]]]))}
    # then alternately the next-best estimates and, within 25% of the best, the fewest tiles
    # (the DRAM model favours larger transfers than the estimate sees), other output tiles
    by_est = np.lexsort((tiles, est)).tolist()
    ok = np.flatnonzero(est <= est.min() * 1.25)
    by_tiles = ok[np.lexsort((est[ok], tiles[ok]))].tolist()
    for j in itertools.chain.from_iterable(itertools.zip_longest(by_est, by_tiles)):
        if len(out) >= top:
            break
        if j is None:
            continue
        side = (int(tm[idx[j]]), int(tn[idx[j]]))
        if side not in seen:
            seen.add(side)
            out.append(int(j))
    if top > 1:  # each with its longest K tile too (fewer, larger DMA transfers)
        for j in list(out):
            same = np.flatnonzero((tm[idx] == tm[idx[j]]) & (tn[idx] == tn[idx[j]])
                                  & (ois == ois[j]) & (db[idx] == db[idx[j]]))
            jk = int(same[np.argmax(tk[idx[same]])])
            if jk not in out:
                out.append(jk)
    return [Mapping(int(tm[idx[j]]), int(tk[idx[j]]), int(tn[idx[j]]), ORDERS[int(ois[j])],
                    bool(db[idx[j]])) for j in out]


def _edges(dim: int, t: int) -> list[tuple[int, int]]:
    """``(tile side, count)`` of a dimension cut into ``t``-sized tiles (the last smaller)."""
    q, rem = divmod(dim, t)
    return [(t, q)] + ([(rem, 1)] if rem else [])


def _array_cycles(op: Gemm, spec: ArraySpec, lanes: int, group: int | None, tm: np.ndarray,
                  tk: np.ndarray, tn: np.ndarray, stream: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Array cycles of one GEMM per candidate tiling (edge tiles exact): every tile on its own,
    and with the tiles along the streamed dimension merged into one fold run
    (:func:`~mixforge.sim.mapping.cycles.can_continue`); and whether they can merge."""
    if group is None and spec.acc_depth is None:
        return grid_cycles(spec, lanes, (op.m, op.k, op.n), tm, tk, tn)
    size = {"m": op.m, "k": op.k, "n": op.n}
    sep = np.empty(tm.size)
    run = np.empty(tm.size)
    ok = np.zeros(tm.size, dtype=bool)
    for i, t in enumerate(zip(tm.tolist(), tk.tolist(), tn.tolist(), strict=True)):
        tile = dict(zip("mkn", t, strict=True))
        parts = {d: _edges(size[d], tile[d]) for d in "mkn"}
        sep[i] = sum(cm * ck * cn * tile_cycles(spec, lanes, sm, sk, sn, group)
                     for sm, cm in parts["m"] for sk, ck in parts["k"] for sn, cn in parts["n"])
        ok[i] = can_continue(spec, lanes, *t, group)
        if ok[i]:
            parts[stream] = [(size[stream], 1)]
            run[i] = sum(cm * ck * cn * tile_cycles(spec, lanes, sm, sk, sn, group)
                         for sm, cm in parts["m"] for sk, ck in parts["k"]
                         for sn, cn in parts["n"])
        else:
            run[i] = sep[i]
    return sep, run, ok
