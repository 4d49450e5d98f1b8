"""Quantization recipes: shipped ones load, bits per element count scales, YAML is validated."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.workloads.footprint import kv_cache_bytes, weight_bytes
from mixforge.workloads.params import count_params
from mixforge.workloads.recipes import Recipe, TensorQuant, load_recipe, recipe_names
from mixforge.workloads.zoo import load_model

SHIPPED = {"fp16", "bf16", "w8a8", "w4a16-g128", "w4a8-g128", "mxfp4", "nvfp4", "fp8-e4m3",
           "posit8", "posit16", "hobbit-hot8-cold4", "mikv-kv8-4", "mikv-kv8-2", "mote-ternary"}


def test_shipped_recipes_load() -> None:
    assert SHIPPED <= set(recipe_names())
    for name in recipe_names():
        assert load_recipe(name).name == name


def test_bits_per_element() -> None:
    assert load_recipe("mxfp4").weights.get("attention").bits_per_elem == 4.25
    assert load_recipe("nvfp4").weights.get("mlp").bits_per_elem == 4.5
    assert load_recipe("w4a16-g128").weights.get("experts").bits_per_elem == 4 + 16 / 128
    assert load_recipe("mikv-kv8-4").kv_cache.bits_per_elem == pytest.approx(0.2 * 8 + 0.8 * 4)
    assert TensorQuant("int4", 128).bytes_for(4096, 2) == 4096 + 32 * 2 * 2


def test_weight_bytes_follow_recipe() -> None:
    m = load_model("llama-2-7b")
    pc = count_params(m)
    assert weight_bytes(m, load_recipe("fp16")) == 2 * pc.total
    # int4 g128 body, fp16 embedding / lm_head / norms
    w4 = weight_bytes(m, load_recipe("w4a16-g128"))
    quant = pc.by_class["attention"] + pc.by_class["mlp"]
    rest = pc.total - quant
    assert w4 == pytest.approx(quant * 4.125 / 8 + rest * 2, abs=2)
    mote = load_model("deepseek-moe-16b")
    r = load_recipe("mote-ternary")
    assert r.weight("shared_experts").format == "float16"
    assert r.weight("experts").format == "int2"
    by = count_params(mote).by_class
    expect = by["experts"] * 2.125 / 8 + (count_params(mote).total - by["experts"]) * 2
    assert weight_bytes(mote, r) == pytest.approx(expect, rel=1e-6)
    assert kv_cache_bytes(m, load_recipe("fp16"), 2, 100) == 2 * 100 * 32 * 2 * 4096 * 2


def test_overrides_per_layer_and_expert() -> None:
    from mixforge.config import from_dict

    r = from_dict(Recipe, {"name": "x", "weights": {"default": {"format": "int4"}},
                           "overrides": [{"layers": [0], "attention": {"format": "int8"}},
                                         {"experts": [3], "experts_format": {"format": "int8"}}]})
    assert r.weight("attention", 0).format == "int8"
    assert r.weight("attention", 1).format == "int4"
    assert r.weight("experts", 5, 3).format == "int8"
    assert r.weight("experts", 5, 2).format == "int4"


def test_bad_recipes(tmp_path) -> None:
    with pytest.raises(ConfigError, match="w4a16-g128"):
        load_recipe("w3a7")
    p = tmp_path / "r.yaml"
    p.write_text("schema_version: 1\nname: r\nweights: {default: {format: int4, groupsize: 1}}\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(p)
    assert e.value.path == "weights.default.groupsize"
    p.write_text("schema_version: 1\nname: r\nkv_cache: {format: int5x}\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(p)
    assert e.value.path == "kv_cache.format"


def test_example_recipe_and_kv_footprints() -> None:
    from pathlib import Path

    from mixforge.workloads.graph import build_model_graph

    path = Path(__file__).resolve().parents[2] / "examples" / "recipes"
    r = load_recipe(path / "w4_experts_int8_edges.yaml")
    m = load_model("mixtral-8x7b")
    assert r.weight("attention", 0).format == "int8" and r.weight("attention", 5).format == "int4"
    g = build_model_graph(m, r, phase="decode", batch=8, kv=64)
    assert {n.layer for n in g.nodes if n.op_class == "attn.qkv"} == {"0", "1-30", "31"}
    # MLA caches the 512 + 64 latent; GPT-OSS's sliding layers keep 128 tokens
    v3 = load_model("deepseek-v3")
    assert kv_cache_bytes(v3, load_recipe("fp16"), 1, 1000) == 61 * 1000 * 576 * 2
    oss = load_model("gpt-oss-20b")
    assert kv_cache_bytes(oss, load_recipe("fp16"), 1, 1000) == \
        12 * (1000 + 128) * 2 * 8 * 64 * 2
