"""Iteration cost from the model layer's op graphs on the cycle-level simulator.

:class:`SimCost` implements :class:`~mixforge.workloads.serving.interface.CostModel`. One
iteration = the graph of ``T`` tokens (decodes + prefill chunk tokens) from
:func:`mixforge.workloads.graph.build_model_graph`, with three parts re-shaped per iteration:

* attention: decode steps as one batched attention over the batch's mean KV length (so its KV
  bytes equal the sum over requests), prefill chunks as causal attention each
  (:func:`~mixforge.workloads.graph.causal_kv_len`); decode attention is simulated at
  ``KvBucket`` edges and batch-size grid points (:func:`.grid.grid`) and interpolated; prefill
  attention at the grid points just above its (query, KV) lengths, scaled by the exact
  causal MAC count;
* routed experts (:mod:`.experts`): tokens per expert drawn per layer and iteration; the
  expert GEMMs of a layer run one after another, are co-processed on xPU and logic-PIM
  (``dispatch="duplex"``), or, with ``expert_parallel``, each on its own identical device so
  the slowest expert bounds the layer; HOBBIT-like hot experts with a promotion cost.

The rest of the graph depends only on ``T``: simulated exactly up to 16 tokens, then at
geometric grid points (ratio 1.25) and linearly interpolated (GEMMs are flat in ``T`` while
memory-bound and linear once compute-bound); per-expert GEMMs use the same grid. Every
result is a vector ``[seconds, energy by component, busy / FLOPs / bytes / energy per unit]``
cached by shape.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.bucket import KvBucket
from mixforge.sim.engine.graph import GraphNode
from mixforge.sim.engine.simulator import Dispatch, Simulator
from mixforge.sim.mapping.ops import Attention, Op, Vector
from mixforge.workloads.config import ModelConfig
from mixforge.workloads.footprint import kv_cache_bytes, weight_bytes
from mixforge.workloads.graph import build_model_graph, causal_kv_len
from mixforge.workloads.lowering import FormatLowering
from mixforge.workloads.recipes import Recipe, load_recipe
from mixforge.workloads.serving.experts import ExpertCost
from mixforge.workloads.serving.grid import (
    ENERGY_COMPONENTS,
    EXACT_T,
    GRID_RATIO,
    CostVec,
    grid1,
    gridded,
)
from mixforge.workloads.serving.interface import IterationCost, MemoryPlan
from mixforge.workloads.serving.routing import Routing
from mixforge.workloads.zoo import load_model

__all__ = ["SimCost"]

_NE = len(ENERGY_COMPONENTS)


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
        self.sim = Simulator(arch, dispatch=cast(Dispatch, "threshold" if dispatch == "duplex"
                                                 else dispatch))
        self.kv_bucket = kv_bucket
        self.units: tuple[str, ...] = ("xpu", "pim") if arch.pim is not None else ("xpu",)
        self.energy_components = ENERGY_COMPONENTS
        self._v = CostVec(self.units)
        self.expert_parallel = expert_parallel
        self.host_bw = host_bw_bytes_per_s
        self.routing = routing = routing or Routing()
        self._cache: dict[tuple[Any, ...], np.ndarray] = {}
        self.hits = self.misses = 0
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
        self.experts: ExpertCost | None = None
        if any(m.is_moe_layer(i) for i in range(m.num_layers)) and m.n_experts:
            n_hot = hot_experts or math.ceil(recipe.weights.hot_fraction * m.n_experts)
            self.experts = ExpertCost(self.sim, self._v, m, recipe, self._builder(), co=self.co,
                                      expert_parallel=expert_parallel, n_hot=n_hot,
                                      routing=routing, seed=seed, routing_pool=routing_pool,
                                      host_bw=host_bw_bytes_per_s)
        self.n_experts = self.experts.n_experts if self.experts else 0
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
        return gridded(self._dense_exact, t)

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

                v += count * gridded(at_batch, bsz)
        for count, kv_ops in self._kvdeq:
            for op, per_kv, per_q in kv_ops:
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
            qg, lg = grid1(c)[1], grid1(length)[1]
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
        for count, kv_ops in self._kvdeq:
            for op, per_kv, per_q in kv_ops:
                n = max(1, round(per_kv * length + per_q * c))
                v += count * self._v.of(self.sim.run_op(dataclasses.replace(op, elems=n)))
        return v

    def iteration(self, prefill_start: np.ndarray, prefill_len: np.ndarray,
                  decode_kv: np.ndarray) -> IterationCost:
        """See :class:`~mixforge.workloads.serving.interface.CostModel`."""
        t = int(decode_kv.size + prefill_len.sum())
        seqs = int(decode_kv.size + prefill_len.size)
        v = self._dense(t) + gridded(self._lm_head, seqs)
        if decode_kv.size:
            v = v + self._decode_attn(decode_kv)
        for s, c in zip(prefill_start.tolist(), prefill_len.tolist(), strict=True):
            v = v + self._prefill_attn(s, c)
        load = None
        extra = 0.0
        if self.experts is not None:
            ve, load, extra = self.experts.step(t)
            v = v + ve
        vv = self._v
        return IterationCost(seconds=float(v[0]) + extra, energy_j=v[1:1 + _NE],
                             unit_busy_s=v[vv.busy], unit_flops=v[vv.flops],
                             unit_bytes=v[vv.bytes], unit_energy_j=v[vv.uenergy],
                             expert_tokens=load)

    def describe(self) -> dict[str, Any]:
        """Model, recipe, device, policies, memory plan, cache statistics."""
        ex = self.experts
        hits = self.hits + (ex.hits if ex else 0)
        total = hits + self.misses + (ex.misses if ex else 0)
        mem = self.memory
        notes = [f"iteration times from the cycle-level simulator ({self.arch.name}); decode "
                 f"attention KV bucket {self.kv_bucket or 'exact'}; token-count ops exact up to "
                 f"{EXACT_T} tokens, interpolated between grid points (ratio {GRID_RATIO}) above"]
        if ex is not None:
            where = ("each expert on its own identical device (slowest bounds the layer; "
                     "all-to-all not modelled)" if self.expert_parallel == "parallel" else
                     "one after another, co-processed on xPU + PIM" if self.co else
                     "one after another")
            notes.append(f"experts: {self.routing} routing, {where}"
                         + (f", {ex.n_hot} hot per layer, {ex.switches} promotions over "
                            f"the host link" if ex.n_hot else ""))
        return {"model": self.model.name, "recipe": self.recipe.name, "device": self.arch.name,
                "dispatch": self.dispatch, "co_processing": self.co,
                "memory": {"device_bytes": mem.device_bytes, "weight_bytes": mem.weight_bytes,
                           "activation_bytes": mem.activation_bytes,
                           "kv_bytes_per_token": mem.kv_bytes_per_token,
                           "kv_capacity_tokens": mem.kv_capacity_tokens},
                "cache": {"hits": hits, "misses": total - hits,
                          "hit_rate": hits / total if total else 0.0,
                          "simulator": self.sim.cache_stats()},
                "hot_expert_promotions": ex.switches if ex else 0, "notes": notes}
