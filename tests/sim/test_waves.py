"""Wave and tile quantization over the cores, and FP8 at its own rate (issue 18 item 7)."""

from __future__ import annotations

from pathlib import Path

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Gemm, Mapping

H100 = Path(__file__).resolve().parents[2] / "examples" / "hw" / "h100_like.yaml"


def test_partial_last_wave_costs_a_wave() -> None:
    """128x128 output tiles on 132 cores: 12 x 11 = 132 tiles is one wave; 12 x 12 = 144 runs
    a second, mostly idle wave (12 tiles), so it takes far longer than 144/132 of the first."""
    arch = load_arch(H100)
    mp = Mapping(128, 64, 128, "mnk", True)
    one = simulate_gemm(arch, Gemm(m=1536, k=4096, n=1408, w="bfloat16", a="bfloat16"), mp)
    two = simulate_gemm(arch, Gemm(m=1536, k=4096, n=1536, w="bfloat16", a="bfloat16"), mp)
    assert one.idle_cores == 0 and two.idle_cores == 0
    assert two.cycles > 1.3 * one.cycles  # 144 / 132 = 1.09 if the work spread evenly
    # the mapper picks tiles that use the cores better than that partial wave
    best = Simulator(arch).run_op(Gemm(m=1536, k=4096, n=1536, w="bfloat16", a="bfloat16"))
    assert best.cycles < two.cycles


def test_whole_output_tiles_spread_over_all_cores() -> None:
    """1024^3 on h100_like ran on 16 of 132 cores (only N tiles were split): 18.3 us, 12%."""
    r = Simulator(load_arch(H100)).run_op(Gemm(m=1024, k=1024, n=1024, w="bfloat16",
                                               a="bfloat16"))
    assert r.idle_cores < 70
    assert r.seconds < 9e-6


def test_fp8_runs_at_twice_the_bf16_rate() -> None:
    """4096^3: FP8 took 152.5 us against BF16's 158.3 us (L2-bandwidth bound single level);
    now the multicast L2 blocks keep FP8 at its 2x lanes."""
    sim = Simulator(load_arch(H100))
    bf = sim.run_op(Gemm(m=4096, k=4096, n=4096, w="bfloat16", a="bfloat16"))
    f8 = sim.run_op(Gemm(m=4096, k=4096, n=4096, w="float8_e4m3fn", a="float8_e4m3fn"))
    assert bf.seconds / f8.seconds > 1.85
    assert f8.seconds >= f8.roofline_seconds


def test_wave_quantization_bounds_the_large_gemm() -> None:
    """BF16 2048x13312x2048: 128 output tiles of 256x128 on 132 SMs, one wave with 4 SMs idle,
    so the mapping alone cannot exceed 128/132 of peak."""
    r = Simulator(load_arch(H100)).run_op(Gemm(m=2048, k=13312, n=2048, w="bfloat16",
                                               a="bfloat16"))
    assert r.idle_cores >= 1
    assert r.utilisation <= (132 - r.idle_cores) / 132
