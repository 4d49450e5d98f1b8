"""Model-level checks against published behaviour (MARLIN's shape, rooflines, a measured A100)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.workloads.footprint import weight_bytes
from mixforge.workloads.graph import build_model_graph
from mixforge.workloads.recipes import load_recipe
from mixforge.workloads.report import simulate_model
from mixforge.workloads.zoo import load_model

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"
LINEAR = ("attn.qkv", "attn.o", "mlp")
BATCHES = (1, 16, 64, 128)


@pytest.fixture(scope="module")
def h100() -> Simulator:
    return Simulator(load_arch(HW / "h100_like.yaml"))


def _linear_seconds(sim: Simulator, recipe: str, batch: int) -> float:
    """Time of the weight GEMMs of one Llama-2-7B decode step (MARLIN measures these)."""
    g = build_model_graph(load_model("llama-2-7b"), load_recipe(recipe), phase="decode",
                          batch=batch, kv=128, arch=sim.arch)
    return sim.run_graph([n for n in g if n.op_class in LINEAR]).seconds


@pytest.fixture(scope="module")
def speedups(h100: Simulator) -> dict[int, float]:
    return {b: _linear_seconds(h100, "fp16", b) / _linear_seconds(h100, "w4a16-g128", b)
            for b in BATCHES}


def test_w4a16_speedup_declines_with_batch(speedups: dict[int, float]) -> None:
    """MARLIN's shape: a memory-bound speedup at small batch that declines toward 1x as the
    GEMMs become compute-bound (batch >= 64-128)."""
    s = speedups
    assert s[1] > 2.5
    assert s[1] >= s[16] > s[64] > s[128] * 0.98
    # never above the roofline speedup: on h100_like FP16 GEMMs stay memory-bound up to
    # M ~ peak / (BW / 2 B) ~ 295, so at batch 128 the bound is still ~2.3x, not ~1x (MARLIN's
    # A10 figure is where the decline toward 1x comes from)
    arch = load_arch(HW / "h100_like.yaml")
    peak = arch.xpu.peak_macs_per_s("float16", "float16")
    bw = arch.hbm.peak_bw_bytes_per_s

    def roof(b: int, w_bytes: float) -> float:
        return max(w_bytes / bw, b / peak)

    for b in BATCHES:  # per weight element: FP16 2 B, INT4 + FP16 group-128 scale 0.516 B
        assert s[b] <= roof(b, 2.0) / roof(b, 4.125 / 8) * 1.001
    assert s[128] < 0.75 * s[1]


@pytest.mark.xfail(strict=True, reason="sim fidelity: at M = 1 a two-bank WS fold of h100_like's "
                   "32x64 array takes (M + 2R + C - 2) / 2 = 63.5 cycles for one row, so INT4 "
                   "GEMVs become fold-bound (e.g. 4096x12288: 10 us vs 7.7 us DRAM roofline) "
                   "and the fixed per-kernel cost weighs on both: simulated speedup 2.6-3.0x at "
                   "batch 1-16, not MARLIN's 3.5-4x")
def test_w4a16_speedup_magnitude_matches_marlin(speedups: dict[int, float]) -> None:
    assert all(3.5 <= speedups[b] <= 4.0 for b in (1, 16))


def test_decode_batch1_memory_bound(h100: Simulator) -> None:
    m, r = load_model("llama-2-7b"), load_recipe("fp16")
    rep = simulate_model(h100, build_model_graph(m, r, phase="decode", batch=1, kv=512,
                                                 arch=h100.arch))
    assert rep.result.roofline_bound == "memory"
    assert rep.seconds >= weight_bytes(m, r) / h100.arch.hbm.peak_bw_bytes_per_s
    assert rep.seconds >= rep.result.roofline_seconds
    assert rep.missing_bytes == 0


def test_prefill_2048_compute_bound(h100: Simulator) -> None:
    g = build_model_graph(load_model("llama-2-7b"), load_recipe("fp16"), phase="prefill",
                          batch=1, prompt=2048, arch=h100.arch)
    res = h100.run_graph(g)
    assert res.roofline_bound == "compute"
    assert res.per_class["mlp"].roofline_bound == "compute"
    assert res.seconds >= res.roofline_seconds


def test_model_that_does_not_fit_is_a_result(h100: Simulator) -> None:
    m = load_model("deepseek-v3")
    rep = simulate_model(h100, build_model_graph(m, load_recipe("fp8-e4m3"), phase="decode",
                                                 batch=1, kv=64, arch=h100.arch))
    assert not rep.as_dict()["memory"]["fits"]
    assert rep.missing_bytes == rep.weight_bytes + rep.kv_bytes - rep.capacity_bytes > 5e11


def test_deterministic(h100: Simulator) -> None:
    m, r = load_model("olmoe-1b-7b"), load_recipe("w4a16-g128")
    g = build_model_graph(m, r, phase="decode", batch=8, kv=256, arch=h100.arch)
    a = simulate_model(Simulator(h100.arch), g).as_dict()
    b = simulate_model(Simulator(h100.arch), g).as_dict()
    assert a == b


#: gpt-fast (github.com/pytorch-labs/gpt-fast, README "Benchmarks"): Llama-2-7B bf16 on one
#: A100-80GB (power limited to 330 W), batch 1, 5-token prompt, ~200 new tokens: 104.9 tokens/s,
#: i.e. 9.53 ms per token.
A100_MEASURED_S = 1 / 104.9


@pytest.mark.xfail(strict=True, reason="sim fidelity: the same measurement as the validation "
                   "entry a100_llama2_7b_bf16_decode_b1 (tests/sim/test_validate.py "
                   "KNOWN_MISSES): ~8.0 ms simulated vs 9.53 ms, +19% tokens/s; the per-kernel "
                   "launch gap, fill and drain explain ~0.65 ms of gpt-fast's ~2 ms loss")
def test_llama2_7b_decode_on_a100_matches_gpt_fast() -> None:
    path = HW / "a100_like.yaml"
    if not path.exists():
        pytest.skip("examples/hw/a100_like.yaml is not in this tree yet (fid-valid branch)")
    arch = load_arch(path)
    g = build_model_graph(load_model("llama-2-7b"), load_recipe("bf16"), phase="decode",
                          batch=1, kv=128, arch=arch)
    secs = Simulator(arch).run_graph(g).seconds
    assert secs == pytest.approx(A100_MEASURED_S, rel=0.15)
