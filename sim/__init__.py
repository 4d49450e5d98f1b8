"""mixforge.sim: cycle-level simulator of xPU + HBM + logic-PIM for quantized LLM/MoE ops.

``from mixforge.sim import Simulator, load_arch, Gemm`` -- names are imported lazily so that
``mixforge --help`` does not pay for NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Simulator", "KvBucket", "load_arch", "ArchConfig", "Gemm", "Vector", "Attention",
           "MoeGate", "gemv", "Mapping", "OpResult", "LayerResult"]

_WHERE = {
    "Simulator": "mixforge.sim.engine.simulator", "KvBucket": "mixforge.sim.engine.bucket",
    "load_arch": "mixforge.sim.arch", "ArchConfig": "mixforge.sim.arch",
    "Gemm": "mixforge.sim.mapping", "Vector": "mixforge.sim.mapping",
    "Attention": "mixforge.sim.mapping", "MoeGate": "mixforge.sim.mapping",
    "gemv": "mixforge.sim.mapping", "Mapping": "mixforge.sim.mapping",
    "OpResult": "mixforge.sim.engine.results", "LayerResult": "mixforge.sim.engine.results",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'mixforge.sim' has no attribute {name!r}")
