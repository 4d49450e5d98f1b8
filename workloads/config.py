"""Model descriptions read from Hugging Face ``config.json`` vocabulary.

:func:`model_from_hf` accepts the keys of Llama, Mistral/Mixtral, Qwen2/Qwen2-MoE/Qwen3-MoE,
DeepSeek-V2/V3 (MLA), OLMoE and GPT-OSS configs; keys it does not use are ignored (a real
config.json has dozens). Missing or contradictory fields raise ``ConfigError`` naming the file
and the field. Which layers are MoE follows each family's rule (:meth:`ModelConfig.is_moe_layer`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["ModelConfig", "model_from_hf", "load_model_json"]

#: Families whose q/k/v projections carry a bias although config.json does not say so
#: (transformers' modeling_qwen2*.py: ``nn.Linear(..., bias=True)`` for q, k, v only).
_QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe"})
#: Families with per-head RMSNorm on q and k (Qwen3 / Qwen3-MoE: head_dim wide).
_QK_HEAD_NORM_TYPES = frozenset({"qwen3", "qwen3_moe"})
#: OLMoE normalises the whole q and k projections (q: heads*head_dim, k: kv_heads*head_dim).
_QK_FULL_NORM_TYPES = frozenset({"olmoe"})
_KNOWN_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
                "deepseek", "deepseek_v2", "deepseek_v3", "olmoe", "gpt_oss")


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only transformer, dense or MoE (fields follow config.json; sizes in elements).

    ``n_experts == 0`` means dense. ``mla`` models (DeepSeek-V2/V3) use ``q_lora_rank`` (0 = a
    plain q projection), ``kv_lora_rank``, ``qk_nope_head_dim``, ``qk_rope_head_dim`` and
    ``v_head_dim``. Shared experts: ``n_shared_experts`` copies of ``moe_intermediate_size``
    (DeepSeek) or one of ``shared_expert_intermediate_size`` with a sigmoid gate (Qwen2-MoE).
    """

    name: str
    model_type: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: str = ""  # "" | "head" (Qwen3) | "full" (OLMoE)
    # MoE
    n_experts: int = 0
    top_k: int = 0
    moe_intermediate_size: int = 0
    n_shared_experts: int = 0
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False
    first_k_dense: int = 0
    moe_layer_freq: int = 1
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    expert_bias: bool = False  # GPT-OSS: biases on expert and router projections
    router_bias: bool = False
    score_correction_bias: bool = False  # DeepSeek-V3 noaux_tc: one bias per routed expert
    # MLA
    mla: bool = False
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # GPT-OSS
    sliding_window: int = 0
    layer_types: tuple[str, ...] = ()
    attention_sinks: bool = False
    source: str = ""

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    def is_moe_layer(self, i: int) -> bool:
        """Whether layer ``i`` has routed experts.

        DeepSeek: ``i >= first_k_dense_replace and i % moe_layer_freq == 0``; Qwen2/3-MoE:
        ``i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0``; others: every layer.
        """
        if not self.is_moe:
            return False
        if i < self.first_k_dense or i in self.mlp_only_layers:
            return False
        if self.model_type.startswith("deepseek"):
            return i % self.moe_layer_freq == 0
        return (i + 1) % self.decoder_sparse_step == 0

    def attention_window(self, i: int) -> int:
        """KV positions layer ``i`` attends to (0 = unbounded; GPT-OSS sliding layers: 128)."""
        if self.layer_types and self.layer_types[i] == "sliding_attention":
            return self.sliding_window
        return 0

    @property
    def kv_elems_per_token_layer(self) -> int:
        """KV-cache elements one token stores in one layer (MLA: the compressed latent)."""
        if self.mla:
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim


def _get(cfg: dict[str, Any], file: str, *keys: str, default: Any = None,
         required: bool = True) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    if required and default is None:
        raise ConfigError("missing field", file=file, path=keys[0])
    return default


def _int(v: Any, file: str, path: str, *, allow_zero: bool = False) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"must be a positive integer, not {v!r}", file=file, path=path)
    return v


def _implicit_layer_types(cfg: dict[str, Any], file: str, mt: str, layers: int
                          ) -> tuple[str, ...]:
    """Sliding-window layers of configs without ``layer_types`` (transformers' rules): Mistral
    / Mixtral use the window in every layer; Qwen2-family models only with
    ``use_sliding_window``, in layers ``>= max_window_layers``; other families ignore it."""
    if mt in ("mistral", "mixtral"):
        return ("sliding_attention",) * layers
    if mt.startswith("qwen") and cfg.get("use_sliding_window") is True:
        first = _int(_get(cfg, file, "max_window_layers", default=0, required=False), file,
                     "max_window_layers", allow_zero=True)
        return tuple("sliding_attention" if i >= first else "full_attention"
                     for i in range(layers))
    return ()


def model_from_hf(cfg: dict[str, Any], *, name: str = "", file: str = "config.json"
                  ) -> ModelConfig:
    """Build a :class:`ModelConfig` from a parsed config.json dict (see module docstring)."""
    if not isinstance(cfg, dict):
        raise ConfigError("must be a JSON object", file=file)
    mt = str(_get(cfg, file, "model_type", default="llama"))
    if mt not in _KNOWN_TYPES:
        raise ConfigError(f"unsupported model_type {mt!r} (known: {', '.join(_KNOWN_TYPES)})",
                          file=file, path="model_type")

    def num(*keys: str, default: int | None = None, zero: bool = False) -> int:
        return _int(_get(cfg, file, *keys, default=default), file, keys[0], allow_zero=zero)

    hidden = num("hidden_size")
    heads = num("num_attention_heads")
    kv_heads = num("num_key_value_heads", default=heads)
    if heads % kv_heads:
        raise ConfigError(f"num_attention_heads ({heads}) is not a multiple of "
                          f"num_key_value_heads ({kv_heads})", file=file,
                          path="num_key_value_heads")
    if "head_dim" in cfg and cfg["head_dim"] is not None:
        head_dim = num("head_dim")
    elif hidden % heads:
        raise ConfigError(f"hidden_size ({hidden}) is not a multiple of num_attention_heads "
                          f"({heads}); give head_dim", file=file, path="head_dim")
    else:
        head_dim = hidden // heads
    n_experts = num("num_local_experts", "n_routed_experts", "num_experts", default=0, zero=True)
    top_k = num("num_experts_per_tok", "experts_per_token", default=0, zero=True) \
        if n_experts else 0
    if n_experts and not 0 < top_k <= n_experts:
        raise ConfigError(f"must be in 1..{n_experts} (the number of experts), not {top_k}",
                          file=file, path="num_experts_per_tok")
    inter = num("intermediate_size")
    moe_inter = num("moe_intermediate_size", default=inter) if n_experts else 0
    layers = num("num_hidden_layers")
    mlp_only = tuple(_get(cfg, file, "mlp_only_layers", default=[], required=False) or ())
    for j, li in enumerate(mlp_only):
        if isinstance(li, bool) or not isinstance(li, int) or not 0 <= li < layers:
            raise ConfigError(f"must be a layer index in 0..{layers - 1}, not {li!r}",
                              file=file, path=f"mlp_only_layers[{j}]")
    layer_types = tuple(_get(cfg, file, "layer_types", default=[], required=False) or ())
    if layer_types and len(layer_types) != layers:
        raise ConfigError(f"has {len(layer_types)} entries but num_hidden_layers is {layers}",
                          file=file, path="layer_types")
    window = num("sliding_window", default=0, zero=True)
    if window and not layer_types:
        layer_types = _implicit_layer_types(cfg, file, mt, layers)
    mla = "kv_lora_rank" in cfg and cfg["kv_lora_rank"] is not None
    shared_i = num("shared_expert_intermediate_size", default=0, zero=True)
    kw: dict[str, Any] = {}
    if mla:
        kw = {"mla": True, "q_lora_rank": num("q_lora_rank", default=0, zero=True),
              "kv_lora_rank": num("kv_lora_rank"), "qk_nope_head_dim": num("qk_nope_head_dim"),
              "qk_rope_head_dim": num("qk_rope_head_dim"), "v_head_dim": num("v_head_dim")}
    if mt == "gpt_oss":
        kw.update(expert_bias=True, router_bias=True, attention_sinks=True)
    tie = _get(cfg, file, "tie_word_embeddings", default=False, required=False)
    if not isinstance(tie, bool):
        raise ConfigError(f"must be true or false, not {tie!r}", file=file,
                          path="tie_word_embeddings")
    attn_bias = bool(_get(cfg, file, "attention_bias", default=False, required=False))
    return ModelConfig(
        name=name or str(cfg.get("_name", mt)), model_type=mt, hidden_size=hidden,
        num_layers=layers, num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        intermediate_size=inter, vocab_size=num("vocab_size"),
        max_position_embeddings=num("max_position_embeddings"), tie_word_embeddings=tie,
        hidden_act=str(_get(cfg, file, "hidden_act", default="silu", required=False)),
        qkv_bias=attn_bias or mt in _QKV_BIAS_TYPES, o_bias=attn_bias,
        qk_norm="head" if mt in _QK_HEAD_NORM_TYPES else
        ("full" if mt in _QK_FULL_NORM_TYPES else ""),
        n_experts=n_experts, top_k=top_k, moe_intermediate_size=moe_inter,
        n_shared_experts=num("n_shared_experts", default=0, zero=True) if n_experts else 0,
        shared_expert_intermediate_size=shared_i if n_experts else 0,
        shared_expert_gate=bool(shared_i) and mt == "qwen2_moe",
        first_k_dense=num("first_k_dense_replace", default=0, zero=True),
        moe_layer_freq=num("moe_layer_freq", default=1),
        decoder_sparse_step=num("decoder_sparse_step", default=1),
        mlp_only_layers=mlp_only,
        score_correction_bias=_get(cfg, file, "topk_method", default="", required=False)
        == "noaux_tc",
        sliding_window=window if "sliding_attention" in layer_types else 0,
        layer_types=layer_types, source=str(cfg.get("_source", "")), **kw)


def load_model_json(path: str | Path, *, name: str = "") -> ModelConfig:
    """Read a config.json file (see :func:`model_from_hf`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(p)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg} (line {exc.lineno})", file=str(p)) from None
    return model_from_hf(data, name=name or p.stem, file=str(p))
