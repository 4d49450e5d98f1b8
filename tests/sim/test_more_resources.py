"""More resources never make an op slower; idle cores are reported (issue 18 item 3).

The A100-like device is built here (108 cores of 32x32 at 1.41 GHz = 312 TFLOP/s BF16, NVIDIA
A100 whitepaper; HBM2e, 5 stacks at 3.03 Gb/s per pin = 1.94 TB/s, A100 80GB PCIe datasheet;
per SM 164 KiB shared memory split between weights and inputs, 256 KiB register file for the
accumulators; 40 MiB L2, whitepaper).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from mixforge.sim.arch.device import ArchConfig, arch_from_dict
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Gemm


def a100_like(data_rate_bps: float = 3.031e9, **xpu: Any) -> ArchConfig:
    x: dict[str, Any] = {
        "freq_hz": 1.41e9, "cores": 108,
        "array": {"rows": 32, "cols": 32, "dataflow": "ws", "double_buffer": True},
        "pe": {"kind": "tensor_core", "acc_bits": 32,
               "modes": [{"w": "float16", "a": "float16", "lanes": 1},
                         {"w": "bfloat16", "a": "bfloat16", "lanes": 1},
                         {"w": "int8", "a": "int8", "lanes": 2}]},
        "sram": {"weight": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                 "input": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                 "output": {"size_bytes": 262144, "banks": 32, "width_bits": 64}},
        "l2": {"size_bytes": 41943040, "banks": 80, "width_bits": 512},
    }
    x.update(xpu)
    return arch_from_dict({"name": "a100_like", "xpu": x,
                           "hbm": {"preset": "hbm2e", "stacks": 5,
                                   "data_rate_bps": data_rate_bps}})


def _with_bw(arch: ArchConfig, rate: float) -> ArchConfig:
    return dataclasses.replace(arch, hbm=dataclasses.replace(arch.hbm, data_rate_bps=rate))


def test_gemv_like_op_not_slower_with_more_bandwidth() -> None:
    """The issue's case: 64x4096x14336 BF16. Old code: 90.1 us at 1.94 TB/s, 179.4 us at
    2.30 TB/s (112 N tiles cut in chunks of 2 kept 56 of 108 cores busy while the DMA time was
    divided over all 108); the issue's own device went 90 -> 180 us from 1.94 to 2.04 TB/s.
    Now each rate listed is at most the previous one."""
    op = Gemm(m=64, k=4096, n=14336, w="bfloat16", a="bfloat16")
    base = a100_like()
    prev = None
    for rate in (3.031e9, 3.1875e9, 4.0e9):  # 1.94, 2.04, 2.56 TB/s
        r = Simulator(_with_bw(base, rate)).run_op(op)
        assert r.seconds >= r.roofline_seconds
        if prev is not None:
            assert r.seconds <= prev * (1 + 1e-9), (rate, r.seconds, prev, r.mapping)
        prev = r.seconds
    assert prev is not None and prev < 100e-6  # old code at 2.30 / 2.56 TB/s: 179 us


def test_idle_cores_are_reported() -> None:
    sim = Simulator(a100_like())
    small = sim.run_op(Gemm(m=16, k=256, n=64, w="bfloat16", a="bfloat16"))
    assert small.idle_cores > 0 and small.as_dict()["idle_cores"] == small.idle_cores
    big = sim.run_op(Gemm(m=64, k=4096, n=14336, w="bfloat16", a="bfloat16"))
    assert 0 <= big.idle_cores < small.idle_cores


#: Relative slack of the random more-resources properties (see the comment in the test).
TOL = 0.03


def _random_op(rng: np.random.Generator) -> Gemm:
    m = int(rng.choice([1, 8, 64, 200, 512]))
    k = int(rng.choice([256, 1024, 4096]))
    n = int(rng.choice([512, 2048, 5120, 14336]))
    fmt = str(rng.choice(["bfloat16", "int8"]))
    return Gemm(m=m, k=k, n=n, w=fmt, a=fmt)


@pytest.mark.parametrize("resource", ["bandwidth", "cores", "sram", "clock"])
def test_more_resources_never_slower(resource: str) -> None:
    """Seeded random ops x devices: one resource raised, everything else equal."""
    rng = np.random.default_rng({"bandwidth": 1, "cores": 2, "sram": 3, "clock": 4}[resource])
    for _ in range(6):
        cores = int(rng.choice([16, 54, 108]))
        base = a100_like(cores=cores)
        op = _random_op(rng)
        if resource == "bandwidth":
            more = _with_bw(base, 3.031e9 * float(rng.uniform(1.05, 1.5)))
        elif resource == "cores":
            more = a100_like(cores=cores + int(rng.integers(1, 40)))
        elif resource == "sram":
            f = float(rng.choice([1.5, 2.0]))
            more = a100_like(cores=cores, sram={
                "weight": {"size_bytes": int(83968 * f), "banks": 32, "width_bits": 32},
                "input": {"size_bytes": int(83968 * f), "banks": 32, "width_bits": 32},
                "output": {"size_bytes": int(262144 * f), "banks": 32, "width_bits": 64}})
        else:
            more = a100_like(cores=cores, freq_hz=1.41e9 * float(rng.uniform(1.05, 1.4)))
        r0, r1 = Simulator(base).run_op(op), Simulator(more).run_op(op)
        assert r0.seconds >= r0.roofline_seconds and r1.seconds >= r1.roofline_seconds
        t0, t1 = r0.seconds, r1.seconds
        # the mapper ranks candidates by an estimate and simulates the best few: a different
        # pick may be slightly slower; the old failure mode was 2x (TOL: the mapper's 2%
        # estimate resolution plus 1%)
        assert t1 <= t0 * (1 + TOL), (resource, op.m, op.k, op.n, op.w, cores, t0, t1)
