"""Memory footprint of a model under a recipe: weight bytes (scales included) and KV bytes."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mixforge.workloads.config import ModelConfig
from mixforge.workloads.params import attention_params, count_params, expert_params
from mixforge.workloads.recipes import Recipe

__all__ = ["weight_bytes", "kv_cache_bytes", "weight_bytes_by_class"]

#: Norm vectors and biases stay in 16 bits in every recipe (they are tiny).
_SMALL_BITS = 16


def weight_bytes_by_class(model: ModelConfig, recipe: Recipe,
                          expert_load: Sequence[int] = ()) -> dict[str, int]:
    """Bytes of each tensor class; scales counted at ``bits_per_elem`` (exact when K is a
    multiple of the group). Hot experts are the most loaded ones in ``expert_load`` (default:
    the lowest expert ids, which a Zipf routing loads most)."""
    m = model
    pc = count_params(m)
    out = dict.fromkeys(pc.by_class, 0.0)
    for cls in ("embedding", "lm_head"):
        out[cls] = pc.by_class[cls] * recipe.weight(cls).bits_per_elem / 8
    out["norm"] = pc.by_class["norm"] * _SMALL_BITS / 8
    attn, _ = attention_params(m)
    n_hot = math.ceil(recipe.weights.hot_fraction * m.n_experts)
    load = list(expert_load) or [m.n_experts - e for e in range(m.n_experts)]
    hot = set(sorted(range(m.n_experts), key=lambda e: (-load[e], e))[:n_hot])
    h = m.hidden_size
    for i in range(m.num_layers):
        out["attention"] += attn * recipe.weight("attention", i).bits_per_elem / 8
        if m.is_moe_layer(i):
            e = expert_params(m)
            for x in range(m.n_experts):
                out["experts"] += e * recipe.weight("experts", i, x, hot=x in hot) \
                    .bits_per_elem / 8
            r = h * m.n_experts
            out["router"] += r * recipe.weight("router", i).bits_per_elem / 8 \
                + (pc.by_class["router"] / max(1, _moe_layers(m)) - r) * _SMALL_BITS / 8
            shared = pc.by_class["shared_experts"] / max(1, _moe_layers(m))
            out["shared_experts"] += shared * recipe.weight("shared_experts", i) \
                .bits_per_elem / 8
        else:
            out["mlp"] += 3 * h * m.intermediate_size * recipe.weight("mlp", i) \
                .bits_per_elem / 8
    return {k: math.ceil(v) for k, v in out.items()}


def _moe_layers(m: ModelConfig) -> int:
    return sum(m.is_moe_layer(i) for i in range(m.num_layers))


def weight_bytes(model: ModelConfig, recipe: Recipe, expert_load: Sequence[int] = ()) -> int:
    """Total weight bytes (see :func:`weight_bytes_by_class`)."""
    return sum(weight_bytes_by_class(model, recipe, expert_load).values())


def kv_cache_bytes(model: ModelConfig, recipe: Recipe, batch: int, tokens: int) -> int:
    """KV-cache bytes of ``batch`` sequences of ``tokens`` tokens (sliding-window layers keep
    only their window; MLA caches the compressed latent)."""
    per_tok = model.kv_elems_per_token_layer * recipe.kv_cache.bits_per_elem / 8
    total = 0.0
    for i in range(model.num_layers):
        w = model.attention_window(i)
        total += (min(tokens, w) if w else tokens) * per_tok
    return math.ceil(total * batch)
