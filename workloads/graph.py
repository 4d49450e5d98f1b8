"""A model step (prefill or decode) as a graph of the simulator's ops.

``build_model_graph(model, recipe, phase=..., batch=..., prompt=... | kv=...)`` returns a
:class:`ModelGraph` whose ``nodes`` go straight to ``Simulator(arch).run_graph``. Layers with
identical ops become one node per op with ``count`` = number of such layers, so a 61-layer
model costs a handful of simulations. The README's "Models on the simulator" section lists the
conventions; each approximation is stated where it is made.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mixforge.errors import ConfigError
from mixforge.sim.engine.graph import GraphNode
from mixforge.sim.mapping.ops import Attention, Op, Vector
from mixforge.workloads.config import ModelConfig
from mixforge.workloads.lowering import FormatLowering, is_fused
from mixforge.workloads.recipes import Recipe, TensorQuant
from mixforge.workloads.routing import Routing, expert_tokens

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mixforge.sim.arch.device import ArchConfig

__all__ = ["ModelGraph", "build_model_graph", "causal_kv_len", "Phase"]

Phase = Literal["prefill", "decode"]
_Item = tuple[str, tuple[Op, ...], str]  # (op class, ops, note)
@dataclass(frozen=True)
class ModelGraph:
    """The ops of one step of ``model`` (iterating yields the :class:`GraphNode` s).

    ``kv_len`` is the longest sequence's KV length after the step, ``kv_lens`` each one's.
    """

    model: ModelConfig
    recipe: Recipe
    phase: Phase
    batch: int
    q_len: int
    kv_len: int
    nodes: tuple[GraphNode, ...]
    expert_load: tuple[int, ...] = ()
    kv_lens: tuple[int, ...] = ()

    @property
    def tokens(self) -> int:
        """Tokens processed this step (batch x prompt in prefill, batch in decode)."""
        return self.batch * self.q_len

    def __iter__(self) -> Iterator[GraphNode]:
        return iter(self.nodes)


def causal_kv_len(q_len: int, past: int, window: int) -> int:
    """KV positions per query, averaged (rounded up), of causal attention of ``q_len`` new
    tokens after ``past`` cached ones; ``window`` > 0 caps each query's span (sliding window).

    The simulated attention is ``q_len`` queries x this KV length, so its MACs equal the causal
    mask's real count ``sum_i min(past + i + 1, window)`` (up to the rounding, < 1 / q_len).
    """
    cap = window if window > 0 else math.inf
    if past + q_len <= cap:  # no window in reach: arithmetic series
        total = q_len * past + q_len * (q_len + 1) // 2
    else:
        total = sum(min(past + i + 1, cap) for i in range(q_len))  # type: ignore[misc]
    return max(1, math.ceil(total / q_len))


class _Builder(FormatLowering):
    def __init__(self, m: ModelConfig, r: Recipe, arch: ArchConfig | None,
                 groups: tuple[tuple[int, int], ...], q_len: int, routing: Routing) -> None:
        self.m, self.r, self.arch = m, r, arch
        self.groups = groups  # (sequences, cached tokens before this step) per KV length
        self.b, self.q = sum(g[0] for g in groups), q_len
        self.t = self.b * q_len
        super().__init__(arch, r.activations, r.dequantize)
        self.routing = routing
        # gated MLPs: SiLU gate (SwiGLU) or GELU gate (GeGLU: gelu's ops; the product is ~1 op
        # more per element)
        self.glu: Literal["swiglu", "gelu"] = "gelu" if m.hidden_act.startswith("gelu") \
            else "swiglu"
        self.load: tuple[int, ...] = ()

    def attention(self, name: str, heads: int, kv_heads: int, head_dim: int, window: int,
                  kv_fmt: str, kv_fraction: float, kv_elems_tok: int) -> tuple[list[Op], str]:
        """One attention op per group of sequences with the same KV length (independent ops:
        the simulator may split them between xPU and PIM), plus KV conversions if needed."""
        a = self.act
        tgt = self._target(kv_fmt, a) if self.native is not None else None
        tw, ta = tgt if tgt is not None else (kv_fmt, a)
        ops: list[Op] = []
        note = ""
        for seqs, past in self.groups:
            kv_len = causal_kv_len(self.q, past, window)
            kv_len = max(1, round(kv_len * kv_fraction)) if kv_fraction < 1 else kv_len
            if tgt is not None:
                conv, note = self._convert(name, "kv_cache", kv_fmt, a, tw, ta,
                                           seqs * kv_len * kv_elems_tok,
                                           seqs * self.q * heads * head_dim)
                ops += conv
            ops.append(Attention(batch=seqs, q_len=self.q, kv_len=kv_len, heads=heads,
                                 kv_heads=kv_heads, head_dim=head_dim, a=ta, kv=tw, name=name))
        return ops, note

    # -------------------------------------------------------------- layer
    def layer(self, i: int) -> list[_Item]:
        m, r, t, a = self.m, self.r, self.t, self.act
        h = m.hidden_size
        items: list[_Item] = [("norm", (Vector("rmsnorm", elems=t * h, fmt=a,
                                                name="input_norm"),), "")]
        items += self._attn_block(i)
        items.append(("residual", (Vector("add", elems=t * h, fmt=a, inputs=2,
                                          name="residual"),), ""))
        items.append(("norm", (Vector("rmsnorm", elems=t * h, fmt=a, name="post_norm"),), ""))
        if m.is_moe_layer(i):
            items += self._moe_block(i)
        else:
            q = r.weight("mlp", i)
            items += self._mlp("mlp", "mlp", m.intermediate_size, q, t)
        items.append(("residual", (Vector("add", elems=t * h, fmt=a, inputs=2,
                                          name="residual"),), ""))
        return items

    def _lin_item(self, cls: str, op_class: str, name: str, m: int, k: int, n: int,
                  q: TensorQuant, batch: int = 1) -> list[_Item]:
        ops, note = self.linear(cls, name, m, k, n, q, batch)
        out: list[_Item] = []
        deq = tuple(o for o in ops if isinstance(o, Vector) and not is_fused(o))
        if deq:
            out.append(("dequant", deq, note))
        fused = tuple(o for o in ops if is_fused(o))
        if fused:
            out.append((op_class, fused, note))
        out.append((op_class, tuple(o for o in ops if not isinstance(o, Vector)), note))
        return out

    def _attn_block(self, i: int) -> list[_Item]:
        m, t, a = self.m, self.t, self.act
        h, nh = m.hidden_size, m.num_heads
        q = self.r.weight("attention", i)
        kvq = self.r.kv_cache
        items: list[_Item] = []
        if m.mla:
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank:
                items += self._lin_item("attention", "attn.qkv", "q_a", t, h, m.q_lora_rank, q)
                items.append(("norm", (Vector("rmsnorm", elems=t * m.q_lora_rank, fmt=a,
                                              name="q_a_norm"),), ""))
                items += self._lin_item("attention", "attn.qkv", "q_b", t, m.q_lora_rank,
                                        nh * qk, q)
            else:
                items += self._lin_item("attention", "attn.qkv", "q", t, h, nh * qk, q)
            lat = m.kv_lora_rank + m.qk_rope_head_dim
            items += self._lin_item("attention", "attn.qkv", "kv_a", t, h, lat, q)
            items.append(("norm", (Vector("rmsnorm", elems=t * m.kv_lora_rank, fmt=a,
                                          name="kv_a_norm"),), ""))
            rope_elems = t * (nh + 1) * m.qk_rope_head_dim
            absorbed = self.q == 1
            if absorbed:
                # decode, absorbed MLA (DeepSeek-V2 inference): W_UK folds into q, W_UV into
                # the output; attention is MQA over the cached latent (kv_lora_rank + rope)
                items += self._lin_item("attention", "attn.qkv", "q_absorb", t,
                                        m.qk_nope_head_dim, m.kv_lora_rank, q, batch=nh)
                heads, kvh, hd, kv_tok = nh, 1, lat, lat
            else:
                # prefill, plain MLA: K/V of every head from the latent, then MHA with q/k of
                # qk_nope + qk_rope and v of v_head_dim; head_dim = their mean keeps QK^T + PV
                # MACs and K + V bytes exact
                vd = m.v_head_dim
                items += self._lin_item("attention", "attn.qkv", "kv_b", t, m.kv_lora_rank,
                                        nh * (m.qk_nope_head_dim + vd), q)
                heads, kvh, hd = nh, nh, (qk + vd) // 2
                kv_tok = nh * (qk + vd)
                if (qk + vd) % 2:
                    raise ConfigError(f"qk_nope_head_dim + qk_rope_head_dim + v_head_dim "
                                      f"({qk + vd}) must be even", path="v_head_dim")
        else:
            qd, kvd = nh * m.head_dim, m.num_kv_heads * m.head_dim
            items += self._lin_item("attention", "attn.qkv", "qkv", t, h, qd + 2 * kvd, q)
            if m.qk_norm:
                items.append(("norm", (Vector("rmsnorm", elems=t * (qd + kvd), fmt=a,
                                              name="qk_norm"),), ""))
            rope_elems = t * (qd + kvd)
            heads, kvh, hd, kv_tok = nh, m.num_kv_heads, m.head_dim, 2 * kvd
        # RoPE: x*cos + rot(x)*sin, 3 ops per element, fused in the projection's epilogue
        items.append(("attn.rope", (Vector("mul", elems=3 * rope_elems, fmt=a, inputs=0,
                                           outputs=0, in_dram=False, name="rope"),), ""))
        window = m.attention_window(i)
        parts = [(kvq.format, 1.0 - kvq.high_fraction), (kvq.high_format, kvq.high_fraction)]
        for fmt, frac in parts:
            if frac <= 0:
                continue
            ops, note = self.attention("attention", heads, kvh, hd, window, fmt, frac, kv_tok)
            deq = tuple(o for o in ops if isinstance(o, Vector))
            if deq:
                items.append(("dequant", deq, note))
            items.append(("attn.core", tuple(o for o in ops if isinstance(o, Attention)), note))
        if m.mla:
            if self.q == 1:
                items += self._lin_item("attention", "attn.o", "v_absorb", t, m.kv_lora_rank,
                                        m.v_head_dim, q, batch=nh)
            items += self._lin_item("attention", "attn.o", "o", t, nh * m.v_head_dim, h, q)
        else:
            items += self._lin_item("attention", "attn.o", "o", t, nh * m.head_dim, h, q)
        return items

    def _mlp(self, cls: str, op_class: str, inter: int, q: TensorQuant, t: int,
             name: str = "") -> list[_Item]:
        h = self.m.hidden_size
        name = name or op_class
        items = self._lin_item(cls, op_class, f"{name}.gate_up", t, h, 2 * inter, q)
        items.append((f"{op_class}.act", (Vector(self.glu, elems=t * inter, fmt=self.act,
                                                 inputs=2, name=f"{name}.swiglu"),), ""))
        items += self._lin_item(cls, op_class, f"{name}.down", t, inter, h, q)
        return items

    def _moe_block(self, i: int) -> list[_Item]:
        m, r, t, a = self.m, self.r, self.t, self.act
        h, e_n = m.hidden_size, m.n_experts
        rq = r.weight("router", i)
        gops, gnote = self.router("moe_gate", rq, t, h, e_n, m.top_k)
        items: list[_Item] = []
        if len(gops) > 1:
            items.append(("dequant", tuple(gops[:-1]), gnote))
        items.append(("moe.gate", (gops[-1],), gnote))
        load = expert_tokens(t, e_n, m.top_k, self.routing)
        self.load = load
        n_hot = math.ceil(r.weights.hot_fraction * e_n)
        hot = set(sorted(range(e_n), key=lambda e: (-load[e], e))[:n_hot])
        up: list[Op] = []
        down: list[Op] = []
        pre: list[Op] = []
        fused: list[Op] = []
        notes: set[str] = set()
        inter = m.moe_intermediate_size
        for e, te in enumerate(load):
            if te == 0:
                continue
            q = r.weight("experts", i, e, hot=e in hot)
            for dst, nm, k, n in ((up, "expert.gate_up", h, 2 * inter),
                                  (down, "expert.down", inter, h)):
                ops, note = self.linear("experts", nm, te, k, n, q)
                pre += [o for o in ops if isinstance(o, Vector) and not is_fused(o)]
                fused += [o for o in ops if is_fused(o)]
                dst += [o for o in ops if not isinstance(o, Vector)]
                if note:
                    notes.add(note)
        note = "; ".join(sorted(notes))
        if pre:
            items.append(("dequant", tuple(pre), note))
        if fused:
            items.append(("moe.experts", tuple(fused), note))
        items.append(("moe.experts", tuple(up), note))
        items.append(("moe.experts.act", (Vector(self.glu, elems=sum(load) * inter, fmt=a,
                                                 inputs=2, name="expert.swiglu"),), ""))
        items.append(("moe.experts", tuple(down), note))
        shared_i = m.shared_expert_intermediate_size or m.n_shared_experts * inter
        if shared_i:
            q = r.weight("shared_experts", i)
            items += self._mlp("shared_experts", "moe.shared", shared_i, q, t, "shared")
            if m.shared_expert_gate:
                items += self._lin_item("shared_experts", "moe.shared", "shared.gate", t, h, 1,
                                        q)
        return items


def build_model_graph(model: ModelConfig, recipe: Recipe, *, phase: Phase, batch: int = 1,
                      prompt: int = 0, kv: int | Sequence[int] = 0,
                      routing: Routing | None = None,
                      arch: ArchConfig | None = None) -> ModelGraph:
    """The op graph of one step.

    Parameters
    ----------
    phase
        ``"prefill"``: ``batch`` prompts of ``prompt`` tokens (causal attention, logits of the
        last token only); ``"decode"``: one new token per sequence, attending to ``kv``
        positions (the new token included).
    kv
        Decode: one KV length for the whole batch, or one per sequence (a serving step; then
        ``batch`` is ``len(kv)``): sequences with equal lengths share an attention op.
    routing
        Tokens per expert (default uniform); the same distribution in every MoE layer.
    arch
        When given, ops whose formats the xPU cannot execute are converted (recipe
        ``dequantize: true``, the cost is a ``dequant`` op class) or rejected.

    Raises ``ConfigError`` for a non-positive batch / length, or a length beyond
    ``max_position_embeddings``.
    """
    if not isinstance(kv, int):
        kvs = tuple(kv)
        if batch not in (1, len(kvs)):
            raise ConfigError(f"is {batch} but kv lists {len(kvs)} sequences", path="batch")
        batch = len(kvs)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"must be a positive integer, not {batch!r}", path="batch")
    if phase == "prefill":
        q_len, lengths, field = prompt, (prompt,) * batch, "prompt"
    elif phase == "decode":
        q_len, field = 1, "kv"
        lengths = kvs if not isinstance(kv, int) else (kv,) * batch
    else:
        raise ConfigError(f"must be prefill or decode, not {phase!r}", path="phase")
    for length in set(lengths):
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError(f"must be a positive integer, not {length!r}", path=field)
        if length > model.max_position_embeddings:
            raise ConfigError(f"{length} exceeds the context window of {model.name} "
                              f"(max_position_embeddings = {model.max_position_embeddings})",
                              path=field)
    past = Counter(n - q_len for n in lengths)
    groups = tuple((c, p) for p, c in sorted(past.items()))
    b = _Builder(model, recipe, arch, groups, q_len, routing or Routing())
    per_sig: dict[tuple[object, ...], list[_Item]] = {}
    layers_of: dict[tuple[object, ...], list[int]] = {}
    for i in range(model.num_layers):
        sig: tuple[object, ...] = (model.is_moe_layer(i), model.attention_window(i),
               tuple(recipe.weight(c, i) for c in ("attention", "mlp", "shared_experts")),
               any(ov.layers and i in ov.layers for ov in recipe.overrides))
        sig = sig if not sig[-1] else (*sig, i)  # per-layer overrides: own signature
        if sig not in per_sig:
            per_sig[sig] = b.layer(i)
        layers_of.setdefault(sig, []).append(i)
    h, a = model.hidden_size, recipe.activations
    t = b.t
    nodes: list[GraphNode] = [GraphNode((Vector("copy", elems=t * h, fmt=a, inputs=1,
                                                name="embedding"),), op_class="embedding")]
    for sig, items in per_sig.items():
        label = _label(layers_of[sig])
        for cls, ops, note in items:
            nodes.append(GraphNode(ops, count=len(layers_of[sig]), op_class=cls, layer=label,
                                   note=note))
    nodes.append(GraphNode((Vector("rmsnorm", elems=batch * h, fmt=a, name="final_norm"),),
                           op_class="norm"))
    for cls, ops, note in b._lin_item("lm_head", "lm_head", "lm_head", batch, h,
                                      model.vocab_size, recipe.weight("lm_head")):
        nodes.append(GraphNode(ops, op_class=cls, note=note))
    return ModelGraph(model=model, recipe=recipe, phase=phase, batch=batch, q_len=q_len,
                      kv_len=max(lengths), nodes=tuple(nodes), expert_load=b.load,
                      kv_lens=lengths)


def _label(layers: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    runs: list[str] = []
    start = prev = layers[0]
    for x in [*layers[1:], None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ",".join(runs)
