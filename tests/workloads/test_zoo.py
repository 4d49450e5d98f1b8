"""Model zoo: every shipped config parses, and its parameter count matches the published one."""

from __future__ import annotations

import json

import pytest

from mixforge.errors import ConfigError
from mixforge.workloads.config import load_model_json, model_from_hf
from mixforge.workloads.params import count_params
from mixforge.workloads.zoo import ZOO_DIR, load_model, published_params, zoo_names

REQUIRED = {"llama-2-7b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "mixtral-8x7b",
            "mixtral-8x22b", "deepseek-moe-16b", "deepseek-v3", "qwen1.5-moe-a2.7b",
            "qwen3-30b-a3b", "olmoe-1b-7b", "gpt-oss-20b"}


def test_zoo_has_the_required_models_with_sources() -> None:
    assert REQUIRED <= set(zoo_names())
    for name in zoo_names():
        data = json.loads((ZOO_DIR / f"{name}.json").read_text())
        assert data["_source"].startswith("https://huggingface.co/"), name
        assert data["_published_params"]["source"], name


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_total_params_within_1pct_of_published(name: str) -> None:
    pc = count_params(load_model(name))
    pub = published_params(name)
    assert pc.total == pytest.approx(pub["total"], rel=0.01)
    active = pc.active
    if pub.get("active_excludes_embedding"):
        active -= pc.by_class["embedding"]
    assert active == pytest.approx(pub["active"], rel=0.02)


def test_exact_counts_known_from_checkpoints() -> None:
    # safetensors totals of the HF checkpoints (model cards / index files)
    assert count_params(load_model("llama-2-7b")).total == 6_738_415_616
    assert count_params(load_model("mixtral-8x7b")).total == 46_702_792_704


def test_layer_mixes() -> None:
    v3 = load_model("deepseek-v3")
    assert [v3.is_moe_layer(i) for i in range(4)] == [False, False, False, True]
    oss = load_model("gpt-oss-20b")
    assert [oss.attention_window(i) for i in range(3)] == [128, 0, 128]
    base = json.loads((ZOO_DIR / "qwen3-30b-a3b.json").read_text())
    q = model_from_hf({**base, "mlp_only_layers": [0, 5], "decoder_sparse_step": 2})
    assert [q.is_moe_layer(i) for i in range(6)] == [False, True, False, True, False, False]
    dense = count_params(q).by_class["mlp"]
    assert dense == 25 * 3 * 2048 * 6144  # the 24 even layers and layer 5 are dense


def test_user_config_json(tmp_path) -> None:
    cfg = {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "vocab_size": 100, "max_position_embeddings": 256, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16"}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    m = load_model(str(p))
    attn = 64 * 64 + 2 * 64 * 32 + 64 * 64
    assert count_params(m).total == 100 * 64 + 2 * (attn + 3 * 64 * 128 + 2 * 64) + 64


@pytest.mark.parametrize("patch, field", [
    ({"hidden_size": None}, "hidden_size"),
    ({"num_key_value_heads": 3}, "num_key_value_heads"),
    ({"num_experts_per_tok": 9}, "num_experts_per_tok"),
    ({"hidden_size": -1}, "hidden_size"),
    ({"model_type": "bert"}, "model_type"),
])
def test_bad_config_names_the_field(patch: dict, field: str, tmp_path) -> None:
    base = json.loads((ZOO_DIR / "mixtral-8x7b.json").read_text())
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({**base, **patch}))
    with pytest.raises(ConfigError) as e:
        load_model_json(p)
    assert e.value.path == field and e.value.file == str(p)


def test_unknown_model_lists_names() -> None:
    with pytest.raises(ConfigError, match="mixtral-8x7b"):
        load_model("gpt-5")


def test_implicit_sliding_windows() -> None:
    base = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
            "num_attention_heads": 4, "vocab_size": 100, "max_position_embeddings": 8192}
    mistral = model_from_hf({**base, "model_type": "mistral", "sliding_window": 4096})
    assert [mistral.attention_window(i) for i in range(4)] == [4096] * 4
    qwen = model_from_hf({**base, "model_type": "qwen2", "sliding_window": 1024,
                          "use_sliding_window": True, "max_window_layers": 2})
    assert [qwen.attention_window(i) for i in range(4)] == [0, 0, 1024, 1024]
    off = model_from_hf({**base, "model_type": "qwen2", "sliding_window": 1024,
                         "use_sliding_window": False})
    assert off.attention_window(3) == 0
    assert load_model("mixtral-8x7b").attention_window(0) == 0  # sliding_window: null
