"""SimCost on the real simulator: degenerate cases reduce to the model graph (``sim model``),
determinism, MoE routing / hot experts / co-processing outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.workloads.graph import build_model_graph
from mixforge.workloads.recipes import load_recipe
from mixforge.workloads.serving.arrivals import Requests, parse_length_dist, synthetic_requests
from mixforge.workloads.serving.cost import SimCost
from mixforge.workloads.serving.engine import DONE, ServeConfig, simulate
from mixforge.workloads.serving.metrics import summarize
from mixforge.workloads.serving.routing import Routing
from mixforge.workloads.zoo import load_model

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


@pytest.fixture(scope="module")
def llama() -> SimCost:
    return SimCost(load_arch(HW / "h100_like.yaml"), load_model("llama-2-7b"),
                   load_recipe("fp16"), kv_bucket=0)


def test_one_request_reduces_to_the_model_graph(llama: SimCost) -> None:
    prompt, out = 576, 6  # 576 is a grid point: the dense ops are simulated exactly
    run = simulate(Requests(np.array([0.25]), np.array([prompt]), np.array([out])), llama)
    sim = Simulator(llama.arch)
    pre = sim.run_graph(build_model_graph(llama.model, llama.recipe, phase="prefill",
                                          batch=1, prompt=prompt, arch=llama.arch))
    ttft = run.first_token_s[0] - 0.25
    # prefill attention is simulated at the grid point above its causal KV length and scaled
    # by the exact MAC count: the only difference from `sim model`
    assert ttft == pytest.approx(pre.seconds, rel=0.01)
    for i, gap in enumerate(run.tbt_s):
        dec = sim.run_graph(build_model_graph(llama.model, llama.recipe, phase="decode",
                                              batch=1, kv=prompt + i + 1, arch=llama.arch))
        assert gap == pytest.approx(dec.seconds, rel=1e-9)


def test_batch_decode_attention_uses_total_kv(llama: SimCost) -> None:
    """Decode attention of a batch = one attention over the batch's mean KV length."""
    kv = np.array([100, 300, 500, 700])
    a = llama.iteration(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), kv)
    b = llama.iteration(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.full(4, 400))
    assert a.seconds == pytest.approx(b.seconds, rel=1e-12)
    c = llama.iteration(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                        np.full(4, 800))
    assert c.seconds > b.seconds


def test_same_seed_identical_llama(llama: SimCost) -> None:
    def once(seed: int) -> dict[str, object]:
        reqs = synthetic_requests(12, 20.0, parse_length_dist("uniform:32:128"),
                                  parse_length_dist("uniform:4:12"),
                                  np.random.default_rng(seed))
        cost = SimCost(llama.arch, llama.model, llama.recipe, seed=seed)
        s = summarize(simulate(reqs, cost, ServeConfig(max_batch=8)))
        return s

    a, b = once(1), once(1)
    assert a == b  # a cold and a warm-started simulator agree bit for bit
    assert a["requests"]["served"] == 12


@pytest.fixture(scope="module")
def olmoe_runs() -> dict[str, dict[str, object]]:
    """OLMoE-1B-7B (64 experts, top-8) on the Duplex device: a few policies, one trace."""
    arch = load_arch(HW / "duplex.yaml")
    model, recipe = load_model("olmoe-1b-7b"), load_recipe("fp16")
    reqs = synthetic_requests(10, 50.0, parse_length_dist("uniform:16:64"),
                              parse_length_dist("uniform:4:12"), np.random.default_rng(3))
    out = {}
    for name, kw in {"uniform": {}, "zipf": {"routing": Routing("zipf", 1.5)},
                     "xpu": {"dispatch": "xpu"},
                     "parallel": {"expert_parallel": "parallel"},
                     "hot": {"hot_experts": 8}}.items():
        cost = SimCost(arch, model, recipe, kv_bucket=64, **kw)  # type: ignore[arg-type]
        run = simulate(reqs, cost, ServeConfig(max_batch=8))
        assert np.all(run.status == DONE)
        s = summarize(run)
        s["cost"] = cost.describe()
        out[name] = s
    return out


def test_expert_histograms_and_skew(olmoe_runs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    u, z = olmoe_runs["uniform"]["experts"], olmoe_runs["zipf"]["experts"]
    assert len(u["tokens"]) == 64 and sum(u["tokens"]) > 0
    assert z["imbalance_total"] > 2 * u["imbalance_total"]
    # skewed routing concentrates tokens: the slowest expert bounds expert-parallel layers
    assert olmoe_runs["parallel"]["duration_s"] != olmoe_runs["uniform"]["duration_s"]


def test_unit_shares_and_co_processing(olmoe_runs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    for s in olmoe_runs.values():
        for key in ("share_time", "share_flops", "share_bytes", "share_energy"):
            assert sum(s["units"][key].values()) == pytest.approx(1.0)
    assert olmoe_runs["xpu"]["units"]["share_flops"]["pim"] == 0.0
    assert olmoe_runs["uniform"]["units"]["share_flops"]["pim"] > 0.0
    assert olmoe_runs["uniform"]["cost"]["cache"]["hit_rate"] > 0.5


def test_hot_experts_are_promoted(olmoe_runs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    assert olmoe_runs["hot"]["cost"]["hot_expert_promotions"] > 0
    assert olmoe_runs["uniform"]["cost"]["hot_expert_promotions"] == 0


def test_duplex_co_processing_beats_the_xpu_alone_at_batch_64() -> None:
    """Duplex's shape (MICRO 2024): Mixtral-8x7B decode at batch 64 is faster with logic-PIM
    than on the xPU alone (figures for more cases: benchmarks/bench_serve_duplex.py)."""
    arch = load_arch(HW / "duplex.yaml")
    model, recipe = load_model("mixtral-8x7b"), load_recipe("w4a16-g128")
    reqs = Requests(np.zeros(64), np.full(64, 256), np.full(64, 96))
    tput = {}
    for d in ("xpu", "duplex"):
        s = summarize(simulate(reqs, SimCost(arch, model, recipe, dispatch=d),
                               ServeConfig(max_batch=64)))
        tput[d] = s["throughput"]["output_tokens_per_s"]
        assert s["requests"]["served"] == 64
    assert tput["duplex"] > 1.2 * tput["xpu"]
