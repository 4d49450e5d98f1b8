"""MoE routing per iteration: tokens per expert for every MoE layer.

Expert popularity per layer is ``uniform``, ``zipf`` (weight of the expert of rank ``r`` is
``r**-s``, ranks shuffled per layer with the seeded RNG so each layer has its own hot experts)
or read from a routing trace (CSV ``layer,expert,count``: measured selection counts of a real
model; popularity = count share per layer). An iteration with ``T`` tokens and top-``k`` routing
draws, per layer, ``T*k`` expert slots from a multinomial with those shares. This keeps the
marginal expected load exact; it ignores that one token picks ``k`` *distinct* experts, which
makes the per-expert variance slightly larger than real routing (factor <= 1 / (1 - k/E)), and a
count is capped at ``T``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mixforge.errors import ConfigError

__all__ = ["Routing", "parse_routing", "expert_popularity", "RoutingSampler"]


@dataclass(frozen=True)
class Routing:
    """Routing distribution: ``uniform``, ``zipf`` with exponent ``s``, or ``trace`` (``path``)."""

    kind: Literal["uniform", "zipf", "trace"] = "uniform"
    s: float = 1.0
    path: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "zipf", "trace"):
            raise ConfigError(f"unknown routing {self.kind!r} (uniform, zipf:S, "
                              "trace:FILE.csv)", path="routing")
        if self.kind == "zipf" and not self.s > 0:
            raise ConfigError(f"zipf exponent must be > 0, not {self.s}", path="routing")
        if self.kind == "trace" and not self.path:
            raise ConfigError("trace routing needs a file", path="routing")

    def __str__(self) -> str:
        return {"uniform": "uniform", "zipf": f"zipf:{self.s:g}",
                "trace": f"trace:{self.path}"}[self.kind]


def parse_routing(text: str) -> Routing:
    """``uniform``, ``zipf:S`` or ``trace:FILE.csv``."""
    kind, _, arg = text.partition(":")
    if kind == "zipf":
        try:
            return Routing("zipf", float(arg or 1.0))
        except ValueError:
            raise ConfigError(f"zipf exponent must be a number, not {arg!r}",
                              path="routing") from None
    if kind == "trace":
        return Routing("trace", path=arg)
    if kind == "uniform" and not arg:
        return Routing()
    return Routing(kind)  # type: ignore[arg-type]  # raises with the valid names


def _read_routing_trace(path: str, layers: int, experts: int) -> np.ndarray:
    counts = np.zeros((layers, experts))
    p = Path(path)
    if not p.is_file():
        raise ConfigError("no such file", file=path)
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        for col in ("layer", "expert", "count"):
            if col not in (reader.fieldnames or []):
                raise ConfigError(f"line 1, column {col}: missing from the header", file=path)
        for row in reader:
            line = reader.line_num
            try:
                li, e, c = int(row["layer"]), int(row["expert"]), float(row["count"])
            except (TypeError, ValueError):
                raise ConfigError(f"line {line}: layer, expert and count must be numbers",
                                  file=path) from None
            for col, v, hi in (("layer", li, layers), ("expert", e, experts)):
                if not 0 <= v < hi:
                    raise ConfigError(f"line {line}, column {col}: {v} out of range "
                                      f"[0, {hi})", file=path)
            if c < 0:
                raise ConfigError(f"line {line}, column count: negative count {c:g}",
                                  file=path)
            counts[li, e] += c
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size:
        raise ConfigError(f"no counts for layer {int(empty[0])}", file=path)
    return counts


def expert_popularity(routing: Routing, layers: int, experts: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Per-layer selection shares, shape ``(layers, experts)``, rows summing to 1."""
    if routing.kind == "uniform":
        w = np.ones((layers, experts))
    elif routing.kind == "zipf":
        base = np.arange(1, experts + 1, dtype=np.float64) ** -routing.s
        w = np.stack([base[rng.permutation(experts)] for _ in range(layers)])
    else:
        w = _read_routing_trace(routing.path, layers, experts)
    return w / w.sum(axis=1, keepdims=True)


class RoutingSampler:
    """Draws tokens per expert for every MoE layer of one iteration (seeded)."""

    def __init__(self, popularity: np.ndarray, top_k: int, rng: np.random.Generator) -> None:
        if not 1 <= top_k <= popularity.shape[1]:
            raise ConfigError(f"must be in [1, {popularity.shape[1]}], not {top_k}",
                              path="top_k")
        self.p = popularity
        self.top_k = top_k
        self.rng = rng
        layers, experts = popularity.shape
        # cumulative shares, layer i's in [i, i+1]: one searchsorted counts every layer's slots
        cum = np.cumsum(popularity, axis=1)
        cum[:, -1] = 1.0
        self._edges = (cum + np.arange(layers)[:, None]).ravel()
        self._offset = np.arange(layers, dtype=np.float64)[:, None]
        self._shape = (layers, experts)

    def sample(self, tokens: int) -> np.ndarray:
        """Counts, shape ``(layers, experts)``; each row sums to ``tokens * top_k`` (before
        the per-expert cap at ``tokens``)."""
        layers, experts = self._shape
        if tokens * self.top_k > 512:  # many slots: per-layer multinomials beat sorting
            return np.minimum(self.rng.multinomial(tokens * self.top_k, self.p), tokens)
        u = self.rng.random((layers, tokens * self.top_k))
        u.sort(axis=1)
        u += self._offset  # rows now ascend across layers: one sorted array
        pos = np.searchsorted(u.ravel(), self._edges)
        c = np.diff(pos, prepend=0).reshape(layers, experts)
        return np.minimum(c, tokens)
