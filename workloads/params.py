"""Exact parameter counts of a :class:`~mixforge.workloads.config.ModelConfig`, by tensor class.

Counts follow the Hugging Face modelling code: every weight, bias and norm vector. The tensor
classes are the ones quantization recipes address: ``embedding``, ``lm_head``, ``attention``,
``mlp`` (dense feed-forward), ``experts`` (routed), ``shared_experts``, ``router``, ``norm``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixforge.workloads.config import ModelConfig

__all__ = ["ParamCounts", "count_params", "attention_params", "expert_params", "TENSOR_CLASSES"]

TENSOR_CLASSES = ("embedding", "lm_head", "attention", "mlp", "experts", "shared_experts",
                  "router", "norm")


@dataclass(frozen=True)
class ParamCounts:
    """Total and per-token active parameters, with the per-class split of the total."""

    by_class: dict[str, int]
    active_by_class: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_class.values())

    @property
    def active(self) -> int:
        return sum(self.active_by_class.values())


def attention_params(m: ModelConfig) -> tuple[int, int]:
    """(weights and biases of the attention projections, norm elements) of one layer."""
    h = m.hidden_size
    if m.mla:
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank:
            q = h * m.q_lora_rank + m.q_lora_rank * m.num_heads * qk
            norms = m.q_lora_rank
        else:
            q = h * m.num_heads * qk
            norms = 0
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) \
            + m.kv_lora_rank * m.num_heads * (m.qk_nope_head_dim + m.v_head_dim)
        o = m.num_heads * m.v_head_dim * h
        return q + kv + o, norms + m.kv_lora_rank
    qd, kvd = m.num_heads * m.head_dim, m.num_kv_heads * m.head_dim
    w = h * qd + 2 * h * kvd + qd * h
    if m.qkv_bias:
        w += qd + 2 * kvd
    if m.o_bias:
        w += h
    if m.attention_sinks:
        w += m.num_heads
    norms = {"head": 2 * m.head_dim, "full": qd + kvd}.get(m.qk_norm, 0)
    return w, norms


def _gated_mlp(h: int, inter: int, bias: bool = False) -> int:
    """gate, up (h x inter each) and down (inter x h), SwiGLU; GPT-OSS adds their biases."""
    return 3 * h * inter + ((2 * inter + h) if bias else 0)


def expert_params(m: ModelConfig) -> int:
    """Parameters of one routed expert."""
    return _gated_mlp(m.hidden_size, m.moe_intermediate_size, m.expert_bias)


def _shared_params(m: ModelConfig) -> int:
    h = m.hidden_size
    if m.shared_expert_intermediate_size:
        return _gated_mlp(h, m.shared_expert_intermediate_size) + (h if m.shared_expert_gate
                                                                    else 0)
    return m.n_shared_experts * _gated_mlp(h, m.moe_intermediate_size)


def count_params(m: ModelConfig) -> ParamCounts:
    """Count every parameter of ``m`` (multi-token-prediction heads are not part of the config's
    ``num_hidden_layers`` and are not counted)."""
    h = m.hidden_size
    tot = dict.fromkeys(TENSOR_CLASSES, 0)
    act = dict.fromkeys(TENSOR_CLASSES, 0)
    tot["embedding"] = act["embedding"] = m.vocab_size * h
    if not m.tie_word_embeddings:
        tot["lm_head"] = act["lm_head"] = m.vocab_size * h
    attn, attn_norms = attention_params(m)
    for i in range(m.num_layers):
        tot["attention"] += attn
        act["attention"] += attn
        norms = 2 * h + attn_norms
        tot["norm"] += norms
        act["norm"] += norms
        if m.is_moe_layer(i):
            e = expert_params(m)
            tot["experts"] += m.n_experts * e
            act["experts"] += m.top_k * e
            r = h * m.n_experts + (m.n_experts if m.router_bias else 0) \
                + (m.n_experts if m.score_correction_bias else 0)
            tot["router"] += r
            act["router"] += r
            s = _shared_params(m)
            tot["shared_experts"] += s
            act["shared_experts"] += s
        else:
            d = _gated_mlp(h, m.intermediate_size)
            tot["mlp"] += d
            act["mlp"] += d
    tot["norm"] += h  # final norm
    act["norm"] += h
    return ParamCounts(by_class=tot, active_by_class=act)
