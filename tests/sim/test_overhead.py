"""Per-kernel fixed cost (issue 18, validation: short kernels and batch-1 decode were too fast).

A GPU-like xPU pays a launch gap between dependent kernels plus one DRAM latency of pipeline
fill and one of drain per kernel (sim/engine/overhead.py); it is part of ``seconds`` and shown
as ``overhead_s``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sim_devices import a100_like

from mixforge.errors import ConfigError
from mixforge.sim.arch.device import ArchConfig, load_arch
from mixforge.sim.engine.overhead import kernel_overhead_s
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Attention, Gemm, Vector

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _with(arch: ArchConfig, gap: float, lat: int) -> ArchConfig:
    return dataclasses.replace(arch, xpu=dataclasses.replace(
        arch.xpu, launch_gap_s=gap, mem_latency_cycles=lat))


def test_overhead_adds_gap_fill_and_drain_per_kernel() -> None:
    base = a100_like()
    arch = _with(base, 1.3e-6, 400)
    t = base.hbm.timing
    per = 1.3e-6 + 2 * 400 / 1.41e9 - (t.t_rcd_ns + t.t_cl_ns) * 1e-9
    assert kernel_overhead_s(arch, 1.41e9) == pytest.approx(per)
    for op in (Gemm(name="g", m=1, k=4096, n=4096, w="bfloat16", a="bfloat16"),
               Vector("rmsnorm", elems=4096, fmt="bfloat16", name="n")):
        r0, r1 = Simulator(base).run_op(op), Simulator(arch).run_op(op)
        assert r0.overhead_s == 0.0
        assert r1.overhead_s == pytest.approx(per)
        assert r1.seconds == pytest.approx(r0.seconds + per)
        assert r1.seconds >= r1.roofline_seconds
        assert r1.as_dict()["overhead_s"] == r1.overhead_s
    # an op on on-chip operands (e.g. RoPE fused into the QKV epilogue) launches no kernel
    fused = Vector("mul", elems=4096, fmt="bfloat16", inputs=0, outputs=0, in_dram=False)
    assert Simulator(arch).run_op(fused).overhead_s == 0.0
    # an unfused attention runs three kernels (QK, softmax, PV), a fused one a single kernel
    att = dict(batch=1, q_len=1, kv_len=512, heads=32, kv_heads=8, head_dim=128, a="bfloat16",
               kv="bfloat16")
    assert Simulator(arch).run_op(Attention(**att)).overhead_s == pytest.approx(per)
    assert Simulator(arch).run_op(Attention(**att, fused=False)).overhead_s == \
        pytest.approx(3 * per)


def test_short_kernel_is_slowed_and_long_one_barely() -> None:
    """The fixed cost is what makes a 9 us kernel slower than its streaming time, while a
    millisecond kernel barely moves (a fudge factor on bandwidth would move both alike)."""
    base = a100_like()
    arch = _with(base, 1.3e-6, 400)
    short = Gemm(name="s", m=1, k=2048, n=2048, w="bfloat16", a="bfloat16")
    long = Gemm(name="l", m=1, k=8192, n=65536, w="bfloat16", a="bfloat16")
    rs = [Simulator(a).run_op(short).seconds for a in (base, arch)]
    rl = [Simulator(a).run_op(long).seconds for a in (base, arch)]
    assert rs[1] / rs[0] > 1.3
    assert rl[1] / rl[0] < 1.01


def test_device_files_carry_the_fields_and_bad_values_are_rejected() -> None:
    for name in ("a100_like", "h100_like", "a10_like"):
        x = load_arch(HW / f"{name}.yaml").xpu
        assert x.launch_gap_s == pytest.approx(1.3e-6) and x.mem_latency_cycles == 400
    with pytest.raises(ConfigError, match="launch_gap_s"):
        dataclasses.replace(a100_like().xpu, launch_gap_s=-1.0)
