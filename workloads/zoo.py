"""The shipped model zoo: ``zoo/*.json`` (config.json fields + ``_source`` + published counts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError
from mixforge.workloads.config import ModelConfig, load_model_json

__all__ = ["ZOO_DIR", "zoo_names", "load_model", "published_params"]

ZOO_DIR = Path(__file__).resolve().parent / "zoo"


def zoo_names() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.stem for p in ZOO_DIR.glob("*.json"))


def _path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return p
    cand = ZOO_DIR / f"{str(name_or_path).lower()}.json"
    if not cand.exists():
        raise ConfigError(f"unknown model {str(name_or_path)!r} (shipped: "
                          f"{', '.join(zoo_names())}; or give a config.json path)",
                          path="--model")
    return cand


def load_model(name_or_path: str | Path) -> ModelConfig:
    """A shipped model by name (``mixtral-8x7b``) or any Hugging Face config.json by path."""
    p = _path(name_or_path)
    return load_model_json(p, name=p.stem if p.parent == ZOO_DIR else "")


def published_params(name_or_path: str | Path) -> dict[str, Any]:
    """The ``_published_params`` record of a zoo file (``{}`` for a user's config.json)."""
    p = _path(name_or_path)
    data = json.loads(p.read_text())
    rec = data.get("_published_params", {})
    return dict(rec) if isinstance(rec, dict) else {}
