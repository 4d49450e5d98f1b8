"""mixforge.workloads: model zoo (Hugging Face config.json), quantization recipes, op graphs.

Two lines from a model to its cost::

    graph = build_model_graph(load_model("mixtral-8x7b"), load_recipe("w4a16-g128"),
                              phase="decode", batch=64, kv=2048, arch=arch)
    result = Simulator(arch).run_graph(graph)

Names are imported lazily so that ``mixforge --help`` does not pay for NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ModelConfig", "load_model_json", "model_from_hf", "kv_cache_bytes", "weight_bytes",
           "ModelGraph", "build_model_graph", "ParamCounts", "count_params", "Recipe",
           "TensorQuant", "load_recipe", "recipe_names", "ModelReport", "simulate_model",
           "Routing", "expert_tokens", "load_model", "zoo_names"]

_WHERE = {
    "ModelConfig": "config", "load_model_json": "config", "model_from_hf": "config",
    "kv_cache_bytes": "footprint", "weight_bytes": "footprint", "ModelGraph": "graph",
    "build_model_graph": "graph", "ParamCounts": "params", "count_params": "params",
    "Recipe": "recipes", "TensorQuant": "recipes", "load_recipe": "recipes",
    "recipe_names": "recipes", "ModelReport": "report", "simulate_model": "report",
    "Routing": "routing", "expert_tokens": "routing", "load_model": "zoo", "zoo_names": "zoo",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"mixforge.workloads.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'mixforge.workloads' has no attribute {name!r}")
