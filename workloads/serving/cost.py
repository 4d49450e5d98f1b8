"""Iteration cost from the model layer's op graphs on the cycle-level simulator.

:class:`SimCost` implements :class:`~mixforge.workloads.serving.interface.CostModel`. One
iteration = the graph of ``T`` tokens (decodes + prefill chunk tokens) from
:func:`mixforge.workloads.graph.build_model_graph`, with three parts re-shaped per iteration:

* attention: decode steps as one batched attention over the batch's mean KV length (so its KV
  bytes equal the sum over requests), prefill chunks as causal attention each
  (:func:`~mixforge.workloads.graph.causal_kv_len`); decode attention is simulated at
  ``KvBucket`` edges and batch-size grid points (:func:`_grid`) and interpolated; prefill
  attention at the grid points just above its (query, KV) lengths, scaled by the exact
  causal MAC count;
* routed experts: tokens per expert drawn per layer and iteration (:mod:`.routing`); the
  expert GEMMs of a layer run one after another, are co-processed on xPU and logic-PIM
  (``dispatch="duplex"``, :meth:`Simulator.co_process`), or, with ``expert_parallel``, each on
  its own identical device so the slowest expert bounds the layer (all-to-all not modelled);
* HOBBIT-like hot experts: the ``n_hot`` experts of each layer with the highest decayed load
  run in the recipe's ``hot_experts`` format, the rest in ``experts``; promoting an expert
  loads its hot weights over the host link (time added to the iteration).

The rest of the graph depends only on ``T``: simulated exactly up to 16 tokens, then at
geometric grid points (ratio 1.25) and linearly interpolated (GEMMs are flat in ``T`` while
memory-bound and linear once compute-bound); per-expert GEMMs use the same grid. Every
result is a vector ``[seconds, energy by component, busy / FLOPs / bytes / energy per unit]``
cached by shape.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.cost.energy import EnergyBreakdown
from mixforge.sim.engine.bucket import KvBucket
from mixforge.sim.engine.graph import GraphNode
from mixforge.sim.engine.results import LayerResult, OpResult
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Attention, Op, Vector
from mixforge.workloads.config import ModelConfig
from mixforge.workloads.footprint import kv_cache_bytes, weight_bytes
from mixforge.workloads.graph import build_model_graph, causal_kv_len
from mixforge.workloads.lowering import FormatLowering
from mixforge.workloads.recipes import Recipe, load_recipe
from mixforge.workloads.serving.interface import IterationCost, MemoryPlan
from mixforge.workloads.serving.routing import Routing, RoutingSampler, expert_popularity
from mixforge.workloads.zoo import load_model

__all__ = ["SimCost", "ENERGY_COMPONENTS"]

ENERGY_COMPONENTS = tuple(f.name for f in dataclasses.fields(EnergyBreakdown))
_NE = len(ENERGY_COMPONENTS)
_EXACT_T = 16       # token-count ops simulated exactly up to this many tokens, then ...
_GRID_RATIO = 1.25  # ... interpolated between geometric grid points (multiples of 16)


def _grid_edges(top: int = 1 << 20) -> np.ndarray:
    pts = set(range(_EXACT_T + 1))
    x = float(_EXACT_T)
    while x < top:
        x *= _GRID_RATIO
        pts.add(-(-round(x) // 16) * 16)
    return np.array(sorted(pts), dtype=np.int64)


_EDGES = _grid_edges()
_EDGES_L = _EDGES.tolist()


def _grid1(t: int) -> tuple[int, int, float]:
    """:func:`_grid` of one count (a bisect: no NumPy call in the per-iteration path)."""
    i = bisect.bisect_left(_EDGES_L, t)
    hi = _EDGES_L[i]
    if hi == t:
        return t, t, 0.0
    lo = _EDGES_L[i - 1]
    return lo, hi, (t - lo) / (hi - lo)


def _grid(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token counts -> grid points ``lo <= t <= hi`` and the weight of ``hi``: exact up to
    16 tokens, then geometric points (ratio 1.25, multiples of 16)."""
    t = np.asarray(t, dtype=np.int64)
    i = np.searchsorted(_EDGES, t)  # _EDGES[i] >= t
    hi = _EDGES[i]
    lo = np.where(hi == t, t, _EDGES[np.maximum(i - 1, 0)])
    f = np.where(hi > lo, (t - lo) / np.maximum(hi - lo, 1), 0.0)
    return lo, hi, f


class _Vec:
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


def _is_kv_conversion(node: GraphNode) -> bool:
    """A ``dequant`` node converting the KV cache (the model graph names those ops
    ``attention.*``)."""
    return node.op_class == "dequant" and all(op.name.startswith("attention.")
                                              for op in node.ops)


def _first_layer(label: str) -> int:
    return int(label.split(",")[0].split("-")[0]) if label else 0


class SimCost:
    """Per-iteration cost of ``model`` quantized by ``recipe`` on ``arch`` (see module doc).

    Parameters
    ----------
    dispatch
        ``duplex``: the Simulator's Op/B threshold per op plus co-processing of experts and
        decode attention on xPU and PIM; ``threshold`` / ``best`` / ``xpu`` / ``pim``: the
        Simulator's policy per op, no co-processing.
    kv_bucket
        Decode attention KV-length bucket (tokens; 0 = exact).
    hot_experts
        HOBBIT-like hot set size per layer (0: ``ceil(recipe hot_fraction * experts)``).
    host_bw_bytes_per_s
        Link used to promote a hot expert (PCIe 5.0 x16: 64 GB/s per direction).
    max_tokens
        Largest ``T`` the engine may ask for (sizes the activation reserve).
    routing_pool
        Routing draws kept per (token count, hot set) (an eighth of it above 256 tokens): each
        iteration picks one of them at random (seeded), so the per-iteration expert loads keep
        their distribution while repeated shapes cost a lookup; 0 draws a fresh routing every
        iteration.
    """

    def __init__(self, arch: ArchConfig, model: ModelConfig, recipe: Recipe, *,
                 dispatch: str = "duplex", kv_bucket: int = 256,
                 routing: Routing | None = None, seed: int = 0,
                 expert_parallel: str = "serial", hot_experts: int = 0,
                 host_bw_bytes_per_s: float = 64e9, max_tokens: int = 8192,
                 max_seqs: int = 256, routing_pool: int = 8) -> None:
        if dispatch not in ("duplex", "threshold", "best", "xpu", "pim"):
            raise ConfigError(f"unknown dispatch {dispatch!r}", path="dispatch")
        if expert_parallel not in ("serial", "parallel"):
            raise ConfigError(f"must be serial or parallel, not {expert_parallel!r}",
                              path="expert_parallel")
        self.arch, self.model, self.recipe = arch, model, recipe
        self.dispatch = dispatch
        self.co = dispatch == "duplex" and arch.pim is not None
        # decode attention is bucketed here, on whole (co-processed) batches: the Simulator
        # sees only bucket-edge KV lengths
        self._bucket = KvBucket(step=kv_bucket) if kv_bucket else None
        self.sim = Simulator(arch, dispatch="threshold" if dispatch == "duplex" else dispatch)
        self.kv_bucket = kv_bucket
        self.units: tuple[str, ...] = ("xpu", "pim") if arch.pim is not None else ("xpu",)
        self.energy_components = ENERGY_COMPONENTS
        self._v = _Vec(self.units)
        self.expert_parallel = expert_parallel
        self.host_bw = host_bw_bytes_per_s
        self.routing = routing = routing or Routing()
        self._cache: dict[tuple[Any, ...], np.ndarray] = {}
        self.hits = self.misses = 0
        self.switches = 0
        m = model
        k0 = min(4096, m.max_position_embeddings)
        self._k0 = k0
        tmpl = build_model_graph(m, recipe, phase="decode", batch=1, kv=k0, arch=arch)
        self._attn = [(n.count, _first_layer(n.layer), n.ops) for n in tmpl
                      if n.op_class == "attn.core"]
        # KV-cache format conversions (when the KV format is not native): elements per KV
        # token read, or per query token for the activation cast
        self._kvdeq = [(n.count, tuple((op, 0.0 if op.name.endswith(".act_cast") else
                                        op.elems / k0, float(op.elems)
                                        if op.name.endswith(".act_cast") else 0.0)
                                       for op in n.ops if isinstance(op, Vector)))
                       for n in tmpl if _is_kv_conversion(n)]
        self.moe_layers = [i for i in range(m.num_layers) if m.is_moe_layer(i)]
        self.n_experts = m.n_experts if self.moe_layers else 0
        self.n_hot = hot_experts or math.ceil(recipe.weights.hot_fraction * self.n_experts)
        if self.n_experts and not 0 <= self.n_hot <= self.n_experts:
            raise ConfigError(f"must be in [0, {self.n_experts}], not {self.n_hot}",
                              path="hot_experts")
        self._max_tokens = max_tokens
        if self.n_experts:
            rng = np.random.default_rng([seed, 1])
            pop = expert_popularity(routing, len(self.moe_layers), self.n_experts, rng)
            self._sampler = RoutingSampler(pop, m.top_k, rng)
            self._pick = np.random.default_rng([seed, 2])
            self._pool_k = routing_pool
            self._pool: dict[tuple[int, bytes], list[tuple[np.ndarray, np.ndarray] | None]] = {}
            self._score = np.zeros((len(self.moe_layers), self.n_experts))
            self._hot = np.zeros((len(self.moe_layers), self.n_experts), dtype=bool)
            self._hot[:, :self.n_hot] = True  # before any load is seen: the lowest ids
            self._hot_bytes = self._expert_bytes(hot=True)
            # per-expert tables [hot, kind (gate_up/down), unit (policy/xpu/pim/conversions),
            # tokens] -> cost vector; NaN = not simulated yet
            self._tab = np.full((2, 2, 4, 65, self._v.size), np.nan)
            self._tab[:, :, :, 0] = 0.0
            self._hot_rows = ((0,) if self.n_hot == 0 else (1,) if self.n_hot >= self.n_experts
                              else (0, 1))
            self._eb = self._builder()
        act_bytes = self._activation_bytes(max_tokens, max_seqs)
        self.memory = MemoryPlan(
            device_bytes=arch.hbm.capacity_bytes, weight_bytes=weight_bytes(m, recipe),
            activation_bytes=act_bytes,
            kv_bytes_per_token=kv_cache_bytes(m, recipe, 1, 1024) / 1024,
            source="weights and KV: mixforge.workloads.footprint; device: hbm.capacity_bytes")

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, *, hw: str, model: str, quant: str, **kw: Any) -> SimCost:
        """From a hardware YAML path, a zoo name / config.json and a recipe name / YAML."""
        return cls(load_arch(hw), load_model(model), load_recipe(quant), **kw)

    def _activation_bytes(self, tokens: int, seqs: int) -> int:
        """Reserve for activations: the residual stream, the widest MLP / expert buffers of
        ``tokens`` tokens and the logits of ``seqs`` sequences, in the activation format,
        double-buffered between layers."""
        from mixforge.models.formats import get_format

        m = self.model
        a = get_format(self.recipe.activations).bits / 8
        inter = max(m.intermediate_size, m.moe_intermediate_size * max(m.top_k, 1))
        per_tok = (4 * m.hidden_size + 3 * inter) * a
        return int(2 * tokens * per_tok + seqs * m.vocab_size * 4)

    def _builder(self) -> FormatLowering:
        return FormatLowering(self.arch, self.recipe.activations, self.recipe.dequantize)

    def _expert_bytes(self, hot: bool) -> float:
        m = self.model
        q = self.recipe.weight("experts", self.moe_layers[0], 0, hot=hot)
        return 3 * m.hidden_size * m.moe_intermediate_size * q.bits_per_elem / 8

    # ------------------------------------------------------------------ pieces
    def _run(self, ops: Sequence[Op], co: bool) -> np.ndarray:
        if co and len(ops) > 1:
            return self._v.of(self.sim.co_process(ops))
        if len(ops) == 1:
            return self._v.of(self.sim.run_op(ops[0]))
        return self._v.of(self.sim.run_ops(ops))

    def _dense_exact(self, t: int) -> np.ndarray:
        key = ("dense", t)
        hit = self._cache.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        g = build_model_graph(self.model, self.recipe, phase="decode", batch=t, kv=1,
                              arch=self.arch)
        v = np.zeros(self._v.size)
        for n in g:
            if n.op_class in ("attn.core", "moe.experts", "moe.experts.act", "lm_head") or \
                    _is_kv_conversion(n) or \
                    any(op.name.startswith(("expert.", "lm_head")) for op in n.ops):
                continue
            v += n.count * self._run(n.ops, False)
        self._cache[key] = v
        return v

    def _dense(self, t: int) -> np.ndarray:
        return self._gridded(self._dense_exact, t)

    @staticmethod
    def _gridded(fn: Any, t: int) -> np.ndarray:
        """``fn(t)`` interpolated between the grid points around ``t``."""
        lo, hi, f = _grid1(t)
        a = fn(lo)
        return a if hi == lo else a + f * (fn(hi) - a)

    def _lm_head(self, seqs: int) -> np.ndarray:
        key = ("lm_head", seqs)
        hit = self._cache.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        b = self._builder()
        ops, _ = b.linear("lm_head", "lm_head", seqs, self.model.hidden_size,
                          self.model.vocab_size, self.recipe.weight("lm_head"))
        v = self._run(ops, False)
        self._cache[key] = v
        return v

    def _decode_attn(self, kv: np.ndarray) -> np.ndarray:
        bsz = int(kv.size)
        v = np.zeros(self._v.size)
        total = float(kv.sum())
        for count, layer, ops in self._attn:
            w = self.model.attention_window(layer)
            span = float(np.minimum(kv, w).sum()) if w else total
            mean = max(1, math.ceil(span / bsz))
            for op in ops:
                assert isinstance(op, Attention)
                frac = op.kv_len / self._k0
                length = max(1, round(mean * frac))
                lo, hi = self._bucket.edges(length) if self._bucket else (length, length)

                def at_batch(b: int, op: Attention = op, lo: int = lo, hi: int = hi,
                             length: int = length) -> np.ndarray:
                    a = self._attn_at(op, b, lo)
                    if hi != lo:
                        a = a + (length - lo) / (hi - lo) * (self._attn_at(op, b, hi) - a)
                    return a

                v += count * self._gridded(at_batch, bsz)
        for count, ops in self._kvdeq:
            for op, per_kv, per_q in ops:
                n = max(1, round(per_kv * total + per_q * bsz))
                v += count * self._v.of(self.sim.run_op(dataclasses.replace(op, elems=n)))
        return v

    def _attn_at(self, op: Attention, bsz: int, length: int) -> np.ndarray:
        key = ("dattn", op, bsz, length)
        hit = self._cache.get(key)
        if hit is None:
            self.misses += 1
            hit = self._attn_batch(op, bsz, length)
            self._cache[key] = hit
        else:
            self.hits += 1
        return hit

    def _attn_batch(self, op: Attention, bsz: int, length: int) -> np.ndarray:
        if not self.co or bsz < 2:
            return self._run((dataclasses.replace(op, batch=bsz, q_len=1, kv_len=length),),
                             False)
        # Duplex co-processing: the batch in up to 8 slices, each on the unit that ends first
        parts = min(8, bsz)
        sizes = [bsz // parts + (i < bsz % parts) for i in range(parts)]
        ops = [dataclasses.replace(op, batch=s, q_len=1, kv_len=length) for s in sizes]
        return self._run(ops, True)

    def _prefill_attn(self, start: int, c: int) -> np.ndarray:
        v = np.zeros(self._v.size)
        for count, layer, ops in self._attn:
            w = self.model.attention_window(layer)
            length = causal_kv_len(c, start, w)
            qg, lg = _grid1(c)[1], _grid1(length)[1]
            scale = (c * length) / (qg * lg)
            for op in ops:
                assert isinstance(op, Attention)
                frac = op.kv_len / self._k0
                lf = max(1, round(lg * frac))
                key = ("pattn", op, qg, lf)
                hit = self._cache.get(key)
                if hit is None:
                    self.misses += 1
                    hit = self._run((dataclasses.replace(op, batch=1, q_len=qg, kv_len=lf),),
                                    False)
                    self._cache[key] = hit
                else:
                    self.hits += 1
                v += (count * scale) * hit
        for count, ops in self._kvdeq:
            for op, per_kv, per_q in ops:
                n = max(1, round(per_kv * length + per_q * c))
                v += count * self._v.of(self.sim.run_op(dataclasses.replace(op, elems=n)))
        return v

    def _expert_rows(self, ms: np.ndarray) -> None:
        """Simulate one expert's GEMMs (and format conversions) for token counts ``ms``."""
        m = self.model
        h, inter = m.hidden_size, m.moe_intermediate_size
        layer = self.moe_layers[0]
        for te in ms.tolist():
            for hot in self._hot_rows:
                q = self.recipe.weight("experts", layer, 0, hot=bool(hot))
                for kind, (nm, k, n) in enumerate((("expert.gate_up", h, 2 * inter),
                                                   ("expert.down", inter, h))):
                    ops, _ = self._eb.linear("experts", nm, te, k, n, q)
                    g = ops[-1]
                    conv = ops[:-1]
                    chosen = self.sim.run_op(g)  # the policy's unit; the other one forced
                    self._tab[hot, kind, 0, te] = self._v.of(chosen)
                    self._tab[hot, kind, 1, te] = self._v.of(
                        chosen if chosen.unit == "xpu" else self.sim.run_op(g, "xpu"))
                    try:
                        self._tab[hot, kind, 2, te] = self._v.of(
                            chosen if chosen.unit == "pim" else self.sim.run_op(g, "pim"))
                    except ConfigError:  # no PIM mode for these formats: never chosen
                        row = np.zeros(self._v.size)
                        row[0] = 1e30
                        self._tab[hot, kind, 2, te] = row
                    self._tab[hot, kind, 3, te] = (self._v.of(self.sim.run_ops(conv))
                                                   if conv else 0.0)

    def _expert_cost(self, counts: np.ndarray, hot: np.ndarray) -> np.ndarray:
        """Cost vector of the routed experts of every MoE layer (``counts``: layers x
        experts), vectorised over layers: per-expert costs from tables simulated on the token
        grid of the dense part (:func:`_grid`) and interpolated between grid points."""
        lo, hi, f = _grid(counts)
        need = np.unique(np.concatenate((lo.ravel(), hi.ravel())))
        need = need[need > 0]
        if need.size:
            if need[-1] >= self._tab.shape[3]:
                grow = max(int(need[-1]) + 1, 2 * self._tab.shape[3])
                tab = np.full((*self._tab.shape[:3], grow, self._v.size), np.nan)
                tab[:, :, :, :self._tab.shape[3]] = self._tab
                self._tab = tab
            missing = need[np.isnan(self._tab[self._hot_rows[0], 0, 1, need, 0])]
            self.misses += int(missing.size)
            self.hits += int(need.size - missing.size)
            if missing.size:
                self._expert_rows(missing)
        active = (counts > 0)[..., None]
        h = hot.astype(np.int64)
        w = f[..., None]

        def row(kind: int, unit: int) -> np.ndarray:
            a = self._tab[h, kind, unit, lo]
            b = self._tab[h, kind, unit, hi]
            return np.where(active, a + w * (b - a), 0.0)

        v = np.zeros(self._v.size)
        per_expert = np.zeros((*counts.shape, self._v.size))
        for kind in (0, 1):
            v += row(kind, 3).sum(axis=(0, 1))  # format conversions, before the GEMMs
            if self.expert_parallel == "parallel":
                per_expert += row(kind, 0)
            elif self.co:
                v += self._greedy(row(kind, 1), row(kind, 2))
            else:
                v += row(kind, 0).sum(axis=(0, 1))
        if self.expert_parallel == "parallel":  # each expert on its own device
            v += per_expert.sum(axis=(0, 1))
            v[0] += float(per_expert[..., 0].max(axis=1).sum() - per_expert[..., 0].sum())
        return v

    def _greedy(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """:meth:`Simulator.co_process`'s rule, vectorised over layers: experts longest
        first, each to the unit where it would finish first; a layer lasts until both units
        are done (DRAM interference between the units is not added here: none with
        ``bank_partition: split``)."""
        tx, tp = x[..., 0], p[..., 0]
        layers, experts = tx.shape
        order = np.argsort(-np.minimum(tx, tp), axis=1, kind="stable")
        rows = np.arange(layers)
        lx = np.zeros(layers)
        lp = np.zeros(layers)
        on_pim = np.zeros((layers, experts), dtype=bool)
        for j in range(experts):
            idx = order[:, j]
            a, b = tx[rows, idx], tp[rows, idx]
            to_p = lp + b < lx + a
            lp += np.where(to_p, b, 0.0)
            lx += np.where(to_p, 0.0, a)
            on_pim[rows, idx] = to_p
        chosen = np.where(on_pim[..., None], p, x)
        v = chosen.sum(axis=(0, 1))
        v[0] = float(np.maximum(lx, lp).sum())
        vv = self._v
        v[vv.busy] = [lx.sum(), lp.sum()]
        return v

    def _routed(self, tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, expert cost) of one iteration, from the routing pool."""
        if not self._pool_k:
            counts = self._sampler.sample(tokens)
            return counts, self._expert_cost(counts, self._hot)
        key = (tokens, self._hot.tobytes() if 0 < self.n_hot < self.n_experts else b"")
        # above 256 tokens (prefill iterations, rarely repeated) a layer's expert loads vary
        # little in relative terms: fewer draws per token count
        k = self._pool_k if tokens <= 256 else max(1, self._pool_k // 8)
        pool = self._pool.setdefault(key, [None] * k)
        i = int(self._pick.integers(k))
        entry = pool[i]
        if entry is None:
            counts = self._sampler.sample(tokens)
            entry = pool[i] = (counts, self._expert_cost(counts, self._hot))
        return entry

    def _experts(self, tokens: int) -> tuple[np.ndarray, np.ndarray, float]:
        counts, v = self._routed(tokens)
        extra_s = 0.0
        if self.n_hot and self.n_hot < self.n_experts:
            self._score = 0.9 * self._score + counts
            order = np.argsort(-self._score, axis=1, kind="stable")[:, :self.n_hot]
            new = np.zeros_like(self._hot)
            np.put_along_axis(new, order, True, axis=1)
            promoted = int(np.count_nonzero(new & ~self._hot))
            if promoted:
                self.switches += promoted
                extra_s = promoted * self._hot_bytes / self.host_bw
            self._hot = new
        total = int(counts.sum()) // len(self.moe_layers)
        act = self._gridded(self._expert_act, total) if total else 0.0
        return v + len(self.moe_layers) * act, counts.sum(axis=0), extra_s

    def _expert_act(self, total: int) -> np.ndarray:
        """SwiGLU of ``total`` routed token-expert pairs of one layer."""
        key = ("moe.act", total)
        act = self._cache.get(key)
        if act is None:
            op = Vector("swiglu", elems=total * self.model.moe_intermediate_size,
                        fmt=self.recipe.activations, inputs=2, name="expert.swiglu")
            act = self._cache[key] = self._v.of(self.sim.run_op(op))
        return act

    # ------------------------------------------------------------------ protocol
    def iteration(self, prefill_start: np.ndarray, prefill_len: np.ndarray,
                  decode_kv: np.ndarray) -> IterationCost:
        """See :class:`~mixforge.workloads.serving.interface.CostModel`."""
        t = int(decode_kv.size + prefill_len.sum())
        seqs = int(decode_kv.size + prefill_len.size)
        v = self._dense(t) + self._gridded(self._lm_head, seqs)
        if decode_kv.size:
            v = v + self._decode_attn(decode_kv)
        for s, c in zip(prefill_start.tolist(), prefill_len.tolist(), strict=True):
            v = v + self._prefill_attn(s, c)
        load = None
        extra = 0.0
        if self.n_experts:
            ve, load, extra = self._experts(t)
            v = v + ve
        vv = self._v
        return IterationCost(seconds=float(v[0]) + extra, energy_j=v[1:1 + _NE],
                             unit_busy_s=v[vv.busy], unit_flops=v[vv.flops],
                             unit_bytes=v[vv.bytes], unit_energy_j=v[vv.uenergy],
                             expert_tokens=load)

    def describe(self) -> dict[str, Any]:
        """Model, recipe, device, policies, memory plan, cache statistics."""
        total = self.hits + self.misses
        mem = self.memory
        notes = [f"iteration times from the cycle-level simulator ({self.arch.name}); decode "
                 f"attention KV bucket {self.kv_bucket or 'exact'}; token-count ops exact up to "
                 f"{_EXACT_T} tokens, interpolated between grid points (ratio {_GRID_RATIO}) above"]
        if self.n_experts:
            where = ("each expert on its own identical device (slowest bounds the layer; "
                     "all-to-all not modelled)" if self.expert_parallel == "parallel" else
                     "one after another, co-processed on xPU + PIM" if self.co else
                     "one after another")
            notes.append(f"experts: {self.routing} routing, {where}"
                         + (f", {self.n_hot} hot per layer, {self.switches} promotions over "
                            f"the host link"
                            if self.n_hot else ""))
        return {"model": self.model.name, "recipe": self.recipe.name, "device": self.arch.name,
                "dispatch": self.dispatch, "co_processing": self.co,
                "memory": {"device_bytes": mem.device_bytes, "weight_bytes": mem.weight_bytes,
                           "activation_bytes": mem.activation_bytes,
                           "kv_bytes_per_token": mem.kv_bytes_per_token,
                           "kv_capacity_tokens": mem.kv_capacity_tokens},
                "cache": {"hits": self.hits, "misses": self.misses,
                          "hit_rate": self.hits / total if total else 0.0,
                          "simulator": self.sim.cache_stats()},
                "hot_expert_promotions": self.switches, "notes": notes}
