"""Devices shared by the sim tests (not a test module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mixforge.sim.arch.device import ArchConfig, arch_from_dict

__all__ = ["a100_like", "example_data"]

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


def example_data(name: str) -> dict[str, Any]:
    """``examples/hw/<name>.yaml`` as a mapping whose RTL references (``xpu.array.config``,
    ``xpu.pe.config``, ``xpu.pe.rtl``, ``pim.unit``) are absolute, so a test can write an
    edited copy anywhere."""
    data: dict[str, Any] = yaml.safe_load((HW / f"{name}.yaml").read_text())
    for sect, key in (("array", "config"), ("pe", "config"), ("pe", "rtl")):
        d = data["xpu"].get(sect)
        if isinstance(d, dict) and key in d:
            d[key] = str((HW / d[key]).resolve())
    if isinstance(data.get("pim"), dict) and "unit" in data["pim"]:
        data["pim"]["unit"] = str((HW / data["pim"]["unit"]).resolve())
    return data


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
