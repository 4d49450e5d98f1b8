"""Op graphs: exact FLOPs and bytes per op against hand calculations (Llama-2-7B, Mixtral-8x7B)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixforge.errors import ConfigError
from mixforge.sim.engine.graph import GraphNode, op_bytes, op_flops
from mixforge.sim.mapping.ops import Attention, Gemm, MoeGate
from mixforge.workloads.graph import build_model_graph, causal_kv_len
from mixforge.workloads.recipes import load_recipe
from mixforge.workloads.routing import Routing, expert_tokens
from mixforge.workloads.zoo import load_model

FP16 = load_recipe("fp16")


def _by_name(nodes: tuple[GraphNode, ...]) -> dict[str, GraphNode]:
    return {n.ops[0].name: n for n in nodes}


def test_llama2_7b_decode_ops_by_hand() -> None:
    b, kv = 4, 1000
    g = build_model_graph(load_model("llama-2-7b"), FP16, phase="decode", batch=b, kv=kv)
    n = _by_name(g.nodes)
    qkv = n["qkv"]
    assert qkv.count == 32 and qkv.layer == "0-31"
    assert op_flops(qkv.ops[0]) == 2 * b * 4096 * 3 * 4096
    # fp16 weights + activations in + outputs out, each once
    assert op_bytes(qkv.ops[0]) == 2 * (4096 * 12288 + b * 4096 + b * 12288)
    assert op_flops(n["o"].ops[0]) == 2 * b * 4096 * 4096
    assert op_flops(n["mlp.gate_up"].ops[0]) == 2 * b * 4096 * 2 * 11008
    assert op_flops(n["mlp.down"].ops[0]) == 2 * b * 11008 * 4096
    assert op_flops(n["lm_head"].ops[0]) == 2 * b * 4096 * 32000
    att = n["attention"].ops[0]
    assert isinstance(att, Attention) and att.kv_len == kv and att.heads == att.kv_heads == 32
    # QK^T and PV over the KV cache: 2 x (32 heads x 128 x kv) MACs per sequence, + softmax
    softmax = 8 * b * 32 * kv
    assert op_flops(att) == 2 * 2 * b * 32 * 128 * kv + softmax
    # K and V caches of every head are read once (fused attention: scores stay on chip)
    kv_bytes = 2 * b * 32 * kv * 128 * 2
    assert op_bytes(att) == kv_bytes + 2 * (2 * b * 32 * 128)  # + q in, out
    total_matmul = sum(2 * Gemm_macs for Gemm_macs in (
        b * 4096 * 12288, b * 4096 * 4096, b * 4096 * 22016, b * 11008 * 4096)) * 32 \
        + 2 * b * 4096 * 32000
    gemm_flops = sum(op_flops(o) * nd.count for nd in g.nodes for o in nd.ops
                     if isinstance(o, Gemm))
    assert gemm_flops == total_matmul


def test_w4a16_bytes_count_scales() -> None:
    g = build_model_graph(load_model("llama-2-7b"), load_recipe("w4a16-g128"), phase="decode",
                          batch=1, kv=16)
    qkv = _by_name(g.nodes)["qkv"].ops[0]
    assert isinstance(qkv, Gemm) and qkv.w == "int4" and qkv.group_size == 128
    w = 4096 * 12288 // 2 + (4096 // 128) * 12288 * 2
    assert op_bytes(qkv) == w + 2 * (4096 + 12288)


def test_mixtral_decode_moe_by_hand() -> None:
    b, kv = 64, 2048
    g = build_model_graph(load_model("mixtral-8x7b"), FP16, phase="decode", batch=b, kv=kv)
    gate = next(o for nd in g.nodes for o in nd.ops if isinstance(o, MoeGate))
    assert (gate.tokens, gate.experts, gate.top_k) == (64, 8, 2)
    ups = [nd for nd in g.nodes if nd.op_class == "moe.experts"]
    up, down = ups[0], ups[1]
    assert len(up.ops) == 8 and up.count == 32
    for op in up.ops:  # uniform routing: 64 tokens x top-2 / 8 experts = 16 tokens each
        assert isinstance(op, Gemm) and (op.m, op.k, op.n) == (16, 4096, 2 * 14336)
    assert sum(op_flops(o) for o in down.ops) == 2 * 64 * 2 * 14336 * 4096
    # expert weights are read once per expert: 8 x (4096 x 28672) fp16
    assert sum(op_bytes(o) for o in up.ops) == 2 * (8 * 4096 * 28672 + 128 * 4096 + 128 * 28672)
    att = _by_name(g.nodes)["attention"].ops[0]
    assert isinstance(att, Attention) and (att.heads, att.kv_heads) == (32, 8)
    assert op_flops(att) == 2 * 2 * b * 32 * 128 * kv + 8 * b * 32 * kv
    assert g.expert_load == (16,) * 8


def test_prefill_causal_flops() -> None:
    p = 2048
    g = build_model_graph(load_model("llama-2-7b"), FP16, phase="prefill", batch=2, prompt=p)
    att = _by_name(g.nodes)["attention"].ops[0]
    assert isinstance(att, Attention) and att.q_len == p
    exact = p * (p + 1) // 2  # causal mask: query i sees i + 1 keys
    assert exact <= att.q_len * att.kv_len <= exact + p
    assert causal_kv_len(7, 0, 0) * 7 == 28
    assert causal_kv_len(1, 4095, 128) == 128  # sliding window caps decode
    assert causal_kv_len(300, 0, 128) == -(-(128 * 129 // 2 + 172 * 128) // 300)
    lm = _by_name(g.nodes)["lm_head"].ops[0]
    assert isinstance(lm, Gemm) and lm.m == 2  # logits of the last token only


def test_deepseek_v3_graph_mla_and_layer_mix() -> None:
    g = build_model_graph(load_model("deepseek-v3"), load_recipe("fp8-e4m3"), phase="decode",
                          batch=8, kv=4096)
    layers = {nd.layer for nd in g.nodes if nd.op_class == "moe.experts"}
    assert layers == {"3-60"}
    att = _by_name(g.nodes)["attention"]
    assert att.layer == "0-2" or att.count in (3, 58)
    a = att.ops[0]
    assert isinstance(a, Attention) and a.kv_heads == 1 and a.head_dim == 512 + 64
    assert a.kv == "float8_e4m3fn"


def test_routing() -> None:
    assert expert_tokens(64, 8, 2, Routing()) == (16,) * 8
    z = expert_tokens(64, 8, 2, Routing("zipf", s=1.2))
    assert sum(z) == 128 and max(z) <= 64 and list(z) == sorted(z, reverse=True)
    assert expert_tokens(3, 8, 2, Routing()) == (1, 1, 1, 1, 1, 1, 0, 0)
    hot = expert_tokens(4, 4, 2, Routing("zipf", s=5.0))
    assert hot[0] == 4 and sum(hot) == 8  # an expert gets each token at most once
    with pytest.raises(ConfigError, match="sum"):
        expert_tokens(4, 2, 1, Routing("counts", counts=(1, 2)))


def test_hot_experts_and_mixed_kv() -> None:
    m = load_model("mixtral-8x7b")
    g = build_model_graph(m, load_recipe("hobbit-hot8-cold4"), phase="decode", batch=16,
                          kv=512, routing=Routing("zipf", s=1.0))
    up = next(nd for nd in g.nodes if nd.op_class == "moe.experts")
    fmts = [o.w for o in up.ops if isinstance(o, Gemm)]
    assert fmts.count("int8") == 2 and fmts.count("int4") == len(fmts) - 2
    g = build_model_graph(m, load_recipe("mikv-kv8-4"), phase="decode", batch=1, kv=1000)
    atts = [o for nd in g.nodes for o in nd.ops if isinstance(o, Attention)]
    assert sorted((a.kv, a.kv_len) for a in atts) == [("int4", 800), ("int8", 200)]


def test_bad_lengths() -> None:
    m = load_model("llama-2-7b")
    with pytest.raises(ConfigError) as e:
        build_model_graph(m, FP16, phase="decode", kv=4097)
    assert e.value.path == "kv" and "4096" in str(e.value)
    with pytest.raises(ConfigError) as e:
        build_model_graph(m, FP16, phase="prefill", prompt=0)
    assert e.value.path == "prompt"
    with pytest.raises(ConfigError):
        build_model_graph(m, FP16, phase="decode", batch=0, kv=10)


def test_deterministic() -> None:
    m = load_model("qwen3-30b-a3b")
    args = {"phase": "decode", "batch": 32, "kv": 1024, "routing": Routing("zipf", s=0.8)}
    assert build_model_graph(m, FP16, **args) == build_model_graph(m, FP16, **args)


def test_conversion_targets_hold_values_exactly() -> None:
    from mixforge.sim.arch import load_arch
    from mixforge.workloads.lowering import exact_in

    assert exact_in("int4", "float16") and exact_in("float4_e2m1fn", "float16")
    assert not exact_in("float4_e2m1fn", "int4") and not exact_in("posit16_es1", "float16")
    assert exact_in("posit8_es0", "float16") and exact_in("int2", "int4")
    arch = load_arch(Path(__file__).resolve().parents[2] / "examples" / "hw" / "h100_like.yaml")
    g = build_model_graph(load_model("llama-2-7b"), load_recipe("mxfp4"), phase="decode",
                          kv=64, arch=arch)
    nodes = _by_name(g.nodes)
    # fused dequantization: FP4 weights (+ E8M0 scales) read once, then the transposed GEMM
    # streams the FP16 weights from on chip
    gemm = nodes["qkv"].ops[0]
    assert isinstance(gemm, Gemm) and not gemm.a_in_dram and gemm.a == "float16"
    assert (gemm.m, gemm.k, gemm.n) == (12288, 4096, 1) and "w=float4_e2m1fn" in nodes["qkv"].note
    assert nodes["qkv.weights"].op_class == "attn.qkv"
    assert op_bytes(nodes["qkv.weights"].ops[0]) == 4096 * 12288 // 2
    assert op_bytes(nodes["qkv.weights"].ops[1]) == 4096 // 32 * 12288  # E8M0 scales
    assert op_bytes(gemm) == 2 * (4096 + 12288)  # activations in, outputs out
    posit = build_model_graph(load_model("llama-2-7b"), load_recipe("posit16"),
                              phase="decode", kv=64, arch=arch)
    assert any("lossy" in n.note for n in posit.nodes)
    deq = next(n for n in posit.nodes if n.op_class == "dequant")  # unfused: a changes too
    assert {o.name.rsplit(".", 1)[-1] for o in deq.ops} == {"dequant", "dequant_store",
                                                            "act_cast"}
    strict = load_recipe("mxfp4").__class__(name="strict", weights=load_recipe("mxfp4").weights,
                                            dequantize=False)
    with pytest.raises(ConfigError, match="no PE mode"):
        build_model_graph(load_model("llama-2-7b"), strict, phase="decode", kv=64, arch=arch)


def test_decode_with_per_sequence_kv_lengths() -> None:
    m = load_model("llama-3-8b")
    g = build_model_graph(m, FP16, phase="decode", kv=[100, 300, 100])
    assert g.batch == 3 and g.kv_len == 300 and g.kv_lens == (100, 300, 100)
    att = _by_name(g.nodes)["attention"].ops
    assert sorted((a.batch, a.kv_len) for a in att if isinstance(a, Attention)) == \
        [(1, 300), (2, 100)]
    qkv = _by_name(g.nodes)["qkv"].ops[0]
    assert isinstance(qkv, Gemm) and qkv.m == 3
    one = build_model_graph(m, FP16, phase="decode", batch=2, kv=100)
    assert op_flops(_by_name(one.nodes)["attention"].ops[0]) == op_flops(att[0])
    with pytest.raises(ConfigError) as e:
        build_model_graph(m, FP16, phase="decode", batch=2, kv=[5, 6, 7])
    assert e.value.path == "batch"
    with pytest.raises(ConfigError) as e:
        build_model_graph(m, FP16, phase="decode", kv=[5, 9000])
    assert e.value.path == "kv"


def test_mla_prefill_is_plain_and_decode_absorbed() -> None:
    m = load_model("deepseek-v3")
    pre = _by_name(build_model_graph(m, FP16, phase="prefill", prompt=513).nodes)
    att = pre["attention"].ops[0]
    assert isinstance(att, Attention) and att.kv_heads == att.heads == 128
    # QK^T over 128 + 64 and PV over 128 per head: the mean 160 keeps the MACs exact
    assert att.head_dim == 160 and att.q_len * att.kv_len == 513 * 514 // 2
    assert "kv_b" in pre and "q_absorb" not in pre and "v_absorb" not in pre
    kv_b = pre["kv_b"].ops[0]
    assert isinstance(kv_b, Gemm) and (kv_b.k, kv_b.n) == (512, 128 * 256)
    dec = _by_name(build_model_graph(m, FP16, phase="decode", kv=513).nodes)
    assert "q_absorb" in dec and "v_absorb" in dec and "kv_b" not in dec
    # absorbed weights = W_UK + W_UV = kv_b's weights
    qa, va = dec["q_absorb"].ops[0], dec["v_absorb"].ops[0]
    assert qa.batch * qa.k * qa.n + va.batch * va.k * va.n == 512 * 128 * 256
