"""Serving simulation: arrivals, traces, continuous batching, MoE routing, metrics, outputs.

``from mixforge.workloads.serving import simulate, ServeConfig, synthetic_requests`` -- names
are imported lazily so that ``mixforge --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Requests", "LengthDist", "synthetic_requests", "read_trace", "write_trace",
           "ServeConfig", "ServeRun", "simulate", "summarize", "Slo", "Routing", "SimCost",
           "CostModel", "IterationCost", "MemoryPlan"]

_WHERE = {
    "Requests": "arrivals", "LengthDist": "arrivals", "synthetic_requests": "arrivals",
    "read_trace": "traces", "write_trace": "traces", "ServeConfig": "engine",
    "ServeRun": "engine", "simulate": "engine", "summarize": "metrics", "Slo": "metrics",
    "Routing": "routing", "SimCost": "cost", "CostModel": "interface",
    "IterationCost": "interface", "MemoryPlan": "interface",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        mod = importlib.import_module(f"mixforge.workloads.serving.{_WHERE[name]}")
        return getattr(mod, name)
    raise AttributeError(f"module 'mixforge.workloads.serving' has no attribute {name!r}")
