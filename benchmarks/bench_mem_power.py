"""Fidelity figures of issue 18 items 4, 6, 7: achieved HBM bandwidth, node-scaled power, and
the sustained clock under a power limit. Prints one Markdown table (BENCHMARKS.md).

    python benchmarks/bench_mem_power.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mixforge.sim.arch import HBM2E, HBM3
from mixforge.sim.arch.device import ArchConfig, arch_from_dict, load_arch
from mixforge.sim.arch.hbm import HbmConfig
from mixforge.sim.engine.dram import binding_resource
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Gemm

HW = Path(__file__).resolve().parents[1] / "examples" / "hw"


def a100_like(rate: float = 3.03e9) -> ArchConfig:
    """Issue 18's A100-like device (108 cores of 32x32 at 1.41 GHz, 5 HBM2E stacks, N7)."""
    return arch_from_dict({
        "name": "a100_like",
        "xpu": {"freq_hz": 1.41e9, "cores": 108, "power_limit_w": 400,
                "array": {"rows": 32, "cols": 32, "dataflow": "ws", "double_buffer": True},
                "pe": {"kind": "tensor_core", "acc_bits": 32, "modes": [
                    {"w": "float16", "a": "float16"}, {"w": "bfloat16", "a": "bfloat16"}]},
                "sram": {"weight": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                         "input": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                         "output": {"size_bytes": 262144, "banks": 32, "width_bits": 64}},
                "vector": {"lanes": 128},
                "l2": {"size_bytes": 41943040, "banks": 80, "width_bits": 512}},
        "energy": {"node_nm": 7},
        "hbm": {"preset": "hbm2e", "stacks": 5, "data_rate_bps": rate}})


def scaled(hbm: HbmConfig, s: float) -> HbmConfig:
    t = dataclasses.replace(hbm.timing, t_ccd_s_ns=hbm.timing.t_ccd_s_ns / s,
                            t_ccd_l_ns=hbm.timing.t_ccd_l_ns / s)
    return dataclasses.replace(hbm, data_rate_bps=hbm.data_rate_bps * s, timing=t)


def main() -> None:
    h100 = load_arch(HW / "h100_like.yaml")
    rows: list[tuple[str, str]] = []
    for name, hbm in (("HBM2E preset", HBM2E), ("HBM3 preset", HBM3), ("h100_like HBM3", h100.hbm)):
        what, frac = binding_resource(hbm)
        rows.append((f"streaming read, {name}", f"{frac:.1%} of pins ({what})"))
    gemv = Gemm(name="gemv", m=1, k=4096, n=14336, w="bfloat16", a="bfloat16")
    a = a100_like()
    fast = dataclasses.replace(a, hbm=scaled(a.hbm, 2.56 / 1.94))
    for tag, arch in (("A100-like, 1.94 TB/s", a), ("A100-like, 2.56 TB/s (tCCD scaled)", fast),
                      ("h100_like, 3.35 TB/s", h100)):
        r = Simulator(arch).run_op(gemv)
        bw = r.dram_bytes / r.seconds
        rows.append((f"GEMV 1x4096x14336 bf16, {tag}",
                     f"{r.seconds * 1e6:.1f} us, {bw / 1e12:.2f} TB/s = "
                     f"{bw / arch.hbm.peak_bw_bytes_per_s:.1%} of pins"))
    pcie = dataclasses.replace(h100, xpu=dataclasses.replace(h100.xpu, power_limit_w=350.0))
    for tag, arch, op in (
            ("h100_like (4 nm, 700 W)", h100, Gemm(name="g", m=4096, k=4096, n=4096,
                                                    w="float16", a="float16")),
            ("h100_like (4 nm, 700 W)", h100, Gemm(name="g", m=2048, k=13312, n=2048,
                                                    w="bfloat16", a="bfloat16")),
            ("h100_like (4 nm, 700 W)", h100, Gemm(name="g", m=8192, k=8192, n=8192,
                                                    w="float8_e4m3fn", a="float8_e4m3fn")),
            ("h100_like at a 350 W limit", pcie, Gemm(name="g", m=2048, k=13312, n=2048,
                                                       w="bfloat16", a="bfloat16")),
            ("A100-like (7 nm, 400 W)", a, Gemm(name="g", m=4096, k=4096, n=4096,
                                                 w="float16", a="float16"))):
        r = Simulator(arch).run_op(op)
        lim = "power-limited" if r.power_limited else "boost"
        rows.append((f"{op.m}x{op.k}x{op.n} {op.w}, {tag}",
                     f"{2 * r.macs / r.seconds / 1e12:,.0f} TFLOP/s, {r.power_w:,.0f} W, "
                     f"{r.clock_hz / 1e9:.3f} GHz ({lim})"))
    print("| what | figure |\n|---|---|")
    for what, fig in rows:
        print(f"| {what} | {fig} |")


if __name__ == "__main__":
    main()
