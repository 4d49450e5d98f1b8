"""The simulator facade: ``Simulator(arch).run_op(op)`` with a per-instance result cache.

Ops are frozen dataclasses, so they are the cache keys: a serving loop that asks for the same
(op, shape) again -- every decode step of every layer -- gets the stored result in a dict lookup.
Only new shapes are simulated (milliseconds). No global state: each Simulator owns its cache.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from mixforge.errors import ConfigError
from mixforge.models.formats import get_format
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.cost.energy import EnergyBreakdown, op_energy
from mixforge.sim.engine.blocked import simulate_blocked
from mixforge.sim.engine.bucket import KvBucket
from mixforge.sim.engine.dvfs import sustained
from mixforge.sim.engine.gemm import GemmTiming, Layout, simulate_best
from mixforge.sim.engine.interference import interference
from mixforge.sim.engine.overhead import with_overhead
from mixforge.sim.engine.results import Bound, LayerResult, OpResult, Unit
from mixforge.sim.engine.units import gemm_on_pim, vector_on_pim, vector_on_xpu
from mixforge.sim.mapping.l2 import map_l2
from mixforge.sim.mapping.mapper import Mapping, map_gemm
from mixforge.sim.mapping.ops import Attention, Gemm, MoeGate, Op, Vector

if TYPE_CHECKING:
    from mixforge.sim.engine.graph import GraphNode, GraphResult

__all__ = ["Simulator", "Dispatch", "DISPATCH_POLICIES"]

Dispatch = Literal["best", "threshold", "xpu", "pim"]

#: The dispatch policies, default first (``mixforge sim op --dispatch``).
DISPATCH_POLICIES: tuple[Dispatch, ...] = ("best", "threshold", "xpu", "pim")


def _us(seconds: float) -> str:
    """A duration in microseconds with enough digits to tell two close ones apart."""
    us = seconds * 1e6
    return f"{us:.4g} us" if us < 1000 else f"{us:,.0f} us"


def _compulsory_bytes(op: Gemm | Vector) -> int:
    """Bytes every execution must move: each operand once."""
    if isinstance(op, Vector):
        return math.ceil(op.elems * get_format(op.fmt).bits / 8) * (op.inputs + op.outputs) \
            if op.in_dram else 0
    b = op.k * op.n * get_format(op.w).bits
    if op.group_size:
        b += op.groups_k * op.n * get_format(op.scale_fmt).bits
    a = op.m * op.k * get_format(op.a).bits if op.a_in_dram else 0
    o = op.m * op.n * get_format(op.o or op.a).bits if op.o_to_dram else 0
    return math.ceil((a + b + o) / 8) * op.batch


class Simulator:
    """Simulates ops on one device.

    Parameters
    ----------
    arch
        The device.
    dispatch
        Where GEMM-like ops and attention run when the device has PIM: ``"best"`` (default:
        simulate both units, keep the faster, ties to the xPU; never slower than either forced
        choice), ``"threshold"`` (Duplex's rule: PIM when the op's FLOP per compulsory DRAM
        byte is below ``arch.pim.opb_threshold``), ``"xpu"`` or ``"pim"`` (forced; ``"pim"``
        falls back to the xPU for ops the PIM has no mode for). Every result says why its unit
        was chosen (:attr:`OpResult.dispatch`).
    layout
        DRAM layout of GEMM operands: ``"tiled"`` (tile-contiguous) or ``"row_major"``.
    cache_size
        Results kept (least recently used are dropped).
    kv_bucket
        Serving: simulate attention only at KV-length bucket edges and interpolate
        (:class:`~mixforge.sim.engine.bucket.KvBucket`, e.g. ``KvBucket(step=256)``); ``None``
        (default) simulates every KV length exactly.

    A serving loop calls :meth:`run_op` for every op of every step; results are cached per op
    (frozen dataclasses are the keys), so repeated shapes cost a dict lookup, and with
    ``kv_bucket`` the changing KV lengths map onto a few cached shapes (:meth:`cache_stats`).
    """

    def __init__(self, arch: ArchConfig, *, dispatch: Dispatch = "best",
                 layout: Layout = "tiled", cache_size: int = 1 << 16,
                 kv_bucket: KvBucket | None = None) -> None:
        if dispatch not in DISPATCH_POLICIES:
            raise ConfigError(f"unknown dispatch policy {dispatch!r} (known: "
                              f"{', '.join(DISPATCH_POLICIES)})", path="dispatch")
        self.arch = arch
        self.dispatch = dispatch
        self.layout = layout
        self.kv_bucket = kv_bucket if kv_bucket is not None and kv_bucket.enabled else None
        self._cached = lru_cache(maxsize=cache_size)(self._simulate)
        self._mappings = lru_cache(maxsize=cache_size)(self._map)
        self._mapped = lru_cache(maxsize=cache_size)(self._map_and_time)
        self._inner_mappings = lru_cache(maxsize=cache_size)(self._map_inner)
        self._interpolated = lru_cache(maxsize=cache_size)(self._bucketed)

    # ---------------------------------------------------------------- public API
    def run_op(self, op: Op, unit: Unit | None = None) -> OpResult:
        """Simulate ``op`` (cached); ``unit`` forces xPU or PIM, else the dispatch policy.

        With ``kv_bucket``, attention between two bucket edges is interpolated from the
        (cached) results at the edges; see :mod:`mixforge.sim.engine.bucket`.
        """
        if (self.kv_bucket is not None and isinstance(op, Attention)
                and op.q_len <= self.kv_bucket.max_q_len):
            lo, hi = self.kv_bucket.edges(op.kv_len)
            if lo != hi:
                if unit is None and self.dispatch == "best" and self._pim_ok(op):
                    # interpolate each unit, then pick: the edges may favour another unit
                    rx = self._interpolated(op, "xpu", lo, hi)
                    rp = self._interpolated(op, "pim", lo, hi)
                    if rp.seconds < rx.seconds:
                        why = f"best: pim {_us(rp.seconds)} < xpu {_us(rx.seconds)}"
                        return dataclasses.replace(rp, dispatch=why)
                    why = f"best: xpu {_us(rx.seconds)} <= pim {_us(rp.seconds)}"
                    return dataclasses.replace(rx, dispatch=why)
                return self._interpolated(op, unit, lo, hi)
        return self._cached(op, unit)

    def cache_stats(self) -> dict[str, float]:
        """Result-cache hits, misses and hit rate: simulations only (a bucketed attention
        counts its two edge lookups; repeats of one interpolated op are not counted)."""
        info = self._cached.cache_info()
        total = info.hits + info.misses
        return {"hits": info.hits, "misses": info.misses,
                "hit_rate": info.hits / total if total else 0.0, "size": info.currsize}

    def run_ops(self, ops: Iterable[Op]) -> LayerResult:
        """Ops one after another (a layer)."""
        return LayerResult(tuple(self.run_op(op) for op in ops))

    def run_graph(self, nodes: Iterable[GraphNode]) -> GraphResult:
        """A model step: ops in order, experts co-processed (:mod:`~mixforge.sim.engine.graph`)."""
        from mixforge.sim.engine.graph import run_graph

        return run_graph(self, nodes)

    def run_concurrent(self, xpu_ops: Sequence[Op], pim_ops: Sequence[Op]) -> LayerResult:
        """``xpu_ops`` on the xPU while ``pim_ops`` run on PIM, both from start to finish.

        While both run, each unit's time is stretched by the DRAM interference of the two
        burst streams (:func:`~mixforge.sim.engine.interference.interference`, at the units'
        average DRAM byte rates): none with ``pim.bank_partition: split`` (disjoint bank
        bundles), row conflicts and bank contention with ``shared``. The stretch applies to
        the overlapped time ``min(xpu, pim)`` (first order: the overlap is not re-iterated);
        the extra row activations are charged to ``LayerResult.extra_energy``.
        """
        xs = tuple(self.run_op(op, "xpu") for op in xpu_ops)
        ps = tuple(self.run_op(op, "pim") for op in pim_ops)
        tx, tp = sum(r.seconds for r in xs), sum(r.seconds for r in ps)
        inter = None
        extra = EnergyBreakdown()
        if tx > 0 and tp > 0:
            xb = sum(r.actions.dram_bits for r in xs) / 8
            pb = sum(r.actions.pim_dram_bits + r.actions.bank_pim_dram_bits for r in ps) / 8
            inter = interference(self.arch, xb / tx, pb / tp)
            overlap = min(tx, tp)
            tx += overlap * (inter.slowdown_xpu - 1)
            tp += overlap * (inter.slowdown_pim - 1)
            if inter.window_ns > 0:
                acts = (inter.extra_activations * self.arch.hbm.n_pcs
                        * overlap / (inter.window_ns * 1e-9))
                extra = EnergyBreakdown(activation_j=acts * self.arch.energy.e_act_pj * 1e-12)
        return LayerResult(xs + ps, concurrent=True, unit_seconds={"xpu": tx, "pim": tp},
                           interference=inter, extra_energy=extra)

    def co_process(self, ops: Sequence[Op]) -> LayerResult:
        """Split independent ops (MoE experts, attention heads) between xPU and PIM.

        Greedy list scheduling (longest first): each op goes to the unit where it would finish
        first. Without PIM everything runs on the xPU.
        """
        if self.arch.pim is None:
            return self.run_concurrent(ops, ())
        cand = [(op, self.run_op(op, "xpu"), self._try_pim(op)) for op in ops]
        cand.sort(key=lambda t: -min(t[1].seconds, t[2].seconds if t[2] else math.inf))
        load = {"xpu": 0.0, "pim": 0.0}
        xs: list[Op] = []
        ps: list[Op] = []
        for op, rx, rp in cand:
            if rp is not None and load["pim"] + rp.seconds < load["xpu"] + rx.seconds:
                ps.append(op)
                load["pim"] += rp.seconds
            else:
                xs.append(op)
                load["xpu"] += rx.seconds
        return self.run_concurrent(xs, ps)

    def mapping(self, op: Gemm) -> Mapping:
        """The mapping the simulator uses for ``op`` on the xPU (cached)."""
        return self._mappings(op)

    def cache_info(self) -> str:
        return str(self._cached.cache_info())

    # ---------------------------------------------------------------- internals
    def _bucketed(self, op: Attention, unit: Unit | None, lo: int, hi: int) -> OpResult:
        t0 = time.perf_counter()
        r_hi = self._cached(dataclasses.replace(op, kv_len=hi), unit)
        chosen: Unit = unit or r_hi.unit
        r_lo = self._cached(dataclasses.replace(op, kv_len=lo), chosen)
        f = (op.kv_len - lo) / (hi - lo)

        def mix(a: float, b: float) -> float:
            return a + f * (b - a)

        roof = max(max(self._roofline(p, chosen)) for p in op.lower()
                   if isinstance(p, Gemm | Vector))
        secs = max(mix(r_lo.seconds, r_hi.seconds), roof)
        energy = EnergyBreakdown(**{k: mix(v, getattr(r_hi.energy, k))
                                    for k, v in r_lo.energy.as_dict().items()})
        macs = sum(p.macs for p in op.lower() if isinstance(p, Gemm))
        util = r_hi.utilisation * r_hi.seconds / max(r_hi.macs, 1) * macs / secs \
            if r_hi.macs else mix(r_lo.utilisation, r_hi.utilisation)
        return dataclasses.replace(
            r_hi, name=op.name, cycles=math.ceil(secs * self.arch.xpu.freq_hz - 1e-9),
            seconds=secs, energy=energy, roofline_seconds=roof, utilisation=min(util, 1.0),
            macs=macs, dram_bytes=round(mix(r_lo.dram_bytes, r_hi.dram_bytes)),
            compute_seconds=mix(r_lo.compute_seconds, r_hi.compute_seconds),
            memory_seconds=mix(r_lo.memory_seconds, r_hi.memory_seconds),
            tiles=round(mix(r_lo.tiles, r_hi.tiles)), parts=(),
            sim_wall_s=time.perf_counter() - t0)

    def _map(self, op: Gemm) -> Mapping:
        return self._mapped(op)[1]

    def _map_and_time(self, op: Gemm) -> tuple[GemmTiming, Mapping]:
        return simulate_best(self.arch, op, self.arch.hbm.peak_bw_bytes_per_s, self.layout)

    def _map_inner(self, op: Gemm) -> Mapping:
        """Core tiles of one L2 block: operands come from the L2 at its bandwidth; K innermost
        (each core keeps its output tile while the block's K streams by)."""
        return map_gemm(op, self.arch.xpu, self.arch.xpu.l2_bw_bytes_per_s,
                        orders=("mnk", "nmk"), split_outputs=True)

    def _try_pim(self, op: Op) -> OpResult | None:
        try:
            return self.run_op(op, "pim")
        except ConfigError:
            return None

    def _pim_ok(self, op: Op) -> bool:
        pim = self.arch.pim
        if pim is None:
            return False
        if isinstance(op, Gemm):
            return pim.lanes_for(op.w, op.a) is not None
        if isinstance(op, Attention):
            return pim.lanes_for(op.kv, op.a) is not None
        return False

    def _choose(self, op: Op) -> tuple[Unit, str]:
        """The unit the policy picks for ``op`` and why (a one-line reason)."""
        if self.arch.pim is None:
            return "xpu", "xpu: the device has no PIM"
        if not self._pim_ok(op):
            return "xpu", "xpu: the PIM has no mode for this op"
        if self.dispatch in ("xpu", "pim"):
            return self.dispatch, f"forced: {self.dispatch} (dispatch={self.dispatch})"
        if self.dispatch == "best":
            tx, tp = self.run_op(op, "xpu").seconds, self.run_op(op, "pim").seconds
            if tp < tx:
                return "pim", f"best: pim {_us(tp)} < xpu {_us(tx)}"
            return "xpu", f"best: xpu {_us(tx)} <= pim {_us(tp)}"
        parts = op.lower() if isinstance(op, Attention) else (op,)
        flops = sum(2 * p.macs for p in parts if isinstance(p, Gemm))
        nbytes = sum(_compulsory_bytes(p) for p in parts if isinstance(p, Gemm | Vector))
        assert self.arch.pim is not None
        opb, thr = flops / max(nbytes, 1), self.arch.pim.opb_threshold
        if opb < thr:
            return "pim", f"threshold: Op/B {opb:.3g} < {thr:g} -> pim"
        return "xpu", f"threshold: Op/B {opb:.3g} >= {thr:g} -> xpu"

    def _simulate(self, op: Op, unit: Unit | None, overhead: bool = True) -> OpResult:
        t0 = time.perf_counter()
        if unit == "pim" and not self._pim_ok(op):
            raise ConfigError(f"{op.name}: the device has no PIM mode for this op", path="pim")
        if unit is None:
            chosen, why = self._choose(op)
            if self.dispatch == "best" and why.startswith("best"):
                # both units were just simulated (and cached): reuse the faster one
                return dataclasses.replace(self.run_op(op, chosen), dispatch=why)
        else:
            chosen, why = unit, f"forced: {unit} (unit={unit})"
        if isinstance(op, Attention | MoeGate):
            parts = tuple(self._simple(p, chosen if isinstance(op, Attention) else "xpu")
                          for p in op.lower())
            res = self._combine(op.name, parts)
        else:
            res = self._simple(op, chosen)
        if chosen == "xpu":  # sustained clock under xpu.power_limit_w (engine/dvfs.py)
            res = sustained(self.arch, res, lambda a: Simulator(
                a, dispatch=self.dispatch, layout=self.layout)._simulate(op, chosen, False))
            # fixed per-kernel cost (engine/overhead.py): a fused attention is one kernel, an
            # unfused one or a MoE gate runs one kernel per lowered part
            kernels = len(res.parts) if res.parts and not (isinstance(op, Attention)
                                                           and op.fused) else 1
            if isinstance(op, Vector) and not op.in_dram:
                kernels = 0  # on-chip operands: fused into its neighbour's kernel (e.g. RoPE)
            res = with_overhead(self.arch, res, kernels) if overhead else res
        wall = time.perf_counter() - t0
        return dataclasses.replace(res, sim_wall_s=wall, dispatch=why)

    def _roofline(self, op: Gemm | Vector, unit: Unit) -> tuple[float, float, float]:
        """(memory, MAC, vector) lower bounds in seconds on ``unit``."""
        arch = self.arch
        if unit == "pim":
            pim = arch.pim
            assert pim is not None
            if isinstance(op, Vector):
                lanes = arch.hbm.n_pcs * pim.units_per_pc * pim.vector_lanes * pim.freq_hz
                return _compulsory_bytes(op) / pim.bw_bytes_per_s(arch.hbm), 0.0, op.ops / lanes
            b = op.k * op.n * get_format(op.w).bits / 8 * op.batch
            return (b / pim.bw_bytes_per_s(arch.hbm),
                    op.macs / pim.peak_macs_per_s(arch.hbm, op.w, op.a), 0.0)
        mem = _compulsory_bytes(op) / arch.hbm.peak_bw_bytes_per_s
        if isinstance(op, Vector):
            vec = op.ops / (arch.xpu.vector.lanes * arch.xpu.cores * arch.xpu.freq_hz)
            return mem, 0.0, vec
        return mem, op.macs / arch.xpu.peak_macs_per_s(op.w, op.a), 0.0

    def _simple(self, op: Gemm | Vector, unit: Unit) -> OpResult:
        arch = self.arch
        freq = arch.xpu.freq_hz
        mapping = None
        idle = 0
        macs = op.macs if isinstance(op, Gemm) else 0
        if unit == "xpu" and isinstance(op, Gemm):
            blk = map_l2(op, arch.xpu, arch.hbm.peak_bw_bytes_per_s)
            if blk is None:
                g, mapping = self._mapped(op)
                # fits the L2: blocks with multicast operand reads may still be faster
                alt = (map_l2(op, arch.xpu, arch.hbm.peak_bw_bytes_per_s, force=True)
                       if arch.xpu.l2_multicast > 1 else None)
                if alt is not None:
                    g2, inner2 = simulate_blocked(arch, op, alt, self._inner_mappings,
                                                  self.layout)
                    if g2.cycles < g.cycles:
                        g, mapping = g2, dataclasses.replace(
                            inner2, l2_bm=alt.bm, l2_bn=alt.bn, l2_order=alt.order)
            else:  # too big for the L2: blocks from DRAM into the L2, tiles from the L2
                g, inner = simulate_blocked(arch, op, blk, self._inner_mappings, self.layout)
                mapping = dataclasses.replace(inner, l2_bm=blk.bm, l2_bn=blk.bn,
                                              l2_order=blk.order)
            cycles, secs = g.cycles, g.cycles / freq
            comp_s, mem_s = g.compute_cycles / freq / g.active_cores, g.dma_cycles / freq
            dram, tiles, actions, idle = g.dram_bytes, g.tiles, g.actions, g.idle_cores
        else:
            if unit == "xpu":
                assert isinstance(op, Vector)
                u = vector_on_xpu(arch, op)
            else:
                u = gemm_on_pim(arch, op) if isinstance(op, Gemm) else vector_on_pim(arch, op)
            secs, comp_s, mem_s = u.seconds, u.compute_seconds, u.memory_seconds
            cycles, dram, tiles, actions = math.ceil(secs * freq - 1e-9), u.dram_bytes, 0, \
                u.actions
            secs = max(secs, cycles / freq) if unit == "xpu" else secs
        mem_b, mac_b, vec_b = self._roofline(op, unit)
        roof = max(mem_b, mac_b, vec_b)
        kind = None
        if unit == "pim":
            fmts = [get_format(f) for f in (op.w, op.a)] if isinstance(op, Gemm) else []
            kind = "int_mac" if fmts and all(f.kind == "int" for f in fmts) else "fp_mac"
        energy = op_energy(actions, arch, secs, kind)
        util = (mac_b if macs else vec_b) / secs if secs > 0 else 0.0
        bound: Bound = "pim" if unit == "pim" else ("memory" if mem_s > comp_s else "compute")
        return OpResult(name=op.name, unit=unit, cycles=cycles, seconds=secs, energy=energy,
                        roofline_seconds=roof, bound=bound, utilisation=util, macs=macs,
                        dram_bytes=dram, compute_seconds=comp_s, memory_seconds=mem_s,
                        tiles=tiles, actions=actions, mapping=mapping, idle_cores=idle)

    def _combine(self, name: str, parts: tuple[OpResult, ...]) -> OpResult:
        secs = sum(p.seconds for p in parts)
        energy = parts[0].energy
        actions = parts[0].actions
        for p in parts[1:]:
            energy = energy + p.energy
            actions = actions + p.actions
        comp = sum(p.compute_seconds for p in parts)
        mem = sum(p.memory_seconds for p in parts)
        unit = parts[0].unit if all(p.unit == parts[0].unit for p in parts) else "xpu"
        bound: Bound = "pim" if unit == "pim" else ("memory" if mem > comp else "compute")
        # a composite's bound: the largest single resource total (valid however parts overlap)
        roof = max(max(p.roofline_seconds for p in parts), 0.0)
        return OpResult(name=name, unit=unit, cycles=sum(p.cycles for p in parts), seconds=secs,
                        energy=energy, roofline_seconds=roof, bound=bound,
                        utilisation=sum(p.utilisation * p.seconds for p in parts) / secs,
                        macs=sum(p.macs for p in parts),
                        dram_bytes=sum(p.dram_bytes for p in parts), compute_seconds=comp,
                        memory_seconds=mem, tiles=sum(p.tiles for p in parts), actions=actions,
                        parts=parts)
