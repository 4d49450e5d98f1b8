"""Devices shared by the sim tests (not a test module)."""

from __future__ import annotations

from typing import Any

from mixforge.sim.arch.device import ArchConfig, arch_from_dict

__all__ = ["a100_like"]


def a100_like(data_rate_bps: float = 3.03e9, **hbm: Any) -> ArchConfig:
    """Issue 18's A100-like device: 108 cores of 32x32 at 1.41 GHz (312 TFLOP/s FP16), five
    HBM2E stacks (3.03 Gb/s: 1.94 TB/s), TSMC N7 (NVIDIA A100 whitepaper)."""
    return arch_from_dict({
        "name": "a100_like",
        "xpu": {"freq_hz": 1.41e9, "cores": 108,
                "array": {"rows": 32, "cols": 32, "dataflow": "ws", "double_buffer": True,
                          "pe_latency": 0},
                "pe": {"kind": "tensor_core", "acc_bits": 32, "modes": [
                    {"w": "float16", "a": "float16", "lanes": 1},
                    {"w": "bfloat16", "a": "bfloat16", "lanes": 1},
                    {"w": "int8", "a": "int8", "lanes": 2}]},
                "sram": {"weight": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                         "input": {"size_bytes": 83968, "banks": 32, "width_bits": 32},
                         "output": {"size_bytes": 262144, "banks": 32, "width_bits": 64}},
                "vector": {"lanes": 128},
                "l2": {"size_bytes": 41943040, "banks": 80, "width_bits": 512}},
        "energy": {"node_nm": 7},
        "hbm": {"preset": "hbm2e", "stacks": 5, "data_rate_bps": data_rate_bps, **hbm}})
