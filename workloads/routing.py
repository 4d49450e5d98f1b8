"""Tokens per expert for one MoE layer: uniform, Zipf(s), or explicit counts.

Each token picks ``top_k`` distinct experts, so an expert receives at most ``tokens``
assignments, and the counts always sum to ``tokens * top_k``. Deterministic (expected counts,
rounded by largest remainder): no sampling, no RNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError

__all__ = ["Routing", "expert_tokens"]


@dataclass(frozen=True)
class Routing:
    """Routing distribution: ``uniform``; ``zipf`` (expert ``i`` gets a share proportional to
    ``1 / (i + 1) ** s``); or ``counts`` (assignments per expert, given)."""

    kind: Literal["uniform", "zipf", "counts"] = "uniform"
    s: float = 1.0
    counts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "zipf", "counts"):
            raise ConfigError(f"must be uniform, zipf or counts, not {self.kind!r}", path="kind")
        if self.kind == "zipf" and not self.s >= 0:
            raise ConfigError(f"must be >= 0, not {self.s}", path="s")
        if self.kind == "counts" and not self.counts:
            raise ConfigError("routing 'counts' needs the per-expert counts", path="counts")


def _capped_shares(total: int, weights: list[float], cap: int) -> list[int]:
    """Split ``total`` proportionally to ``weights`` with every part <= ``cap``."""
    n = len(weights)
    out = [0.0] * n
    free = list(range(n))
    left = float(total)
    while free:  # water-filling: experts at the cap give their excess to the others
        wsum = sum(weights[i] for i in free)
        over = [i for i in free if left * weights[i] / wsum > cap]
        if not over:
            for i in free:
                out[i] = left * weights[i] / wsum
            break
        for i in over:
            out[i] = cap
            left -= cap
            free.remove(i)
    floors = [math.floor(x + 1e-9) for x in out]
    rest = total - sum(floors)
    order = sorted(range(n), key=lambda i: (-(out[i] - floors[i]), i))
    for i in order:
        if rest <= 0:
            break
        if floors[i] < cap:
            floors[i] += 1
            rest -= 1
    return floors


def expert_tokens(tokens: int, n_experts: int, top_k: int, routing: Routing) -> tuple[int, ...]:
    """Assignments per expert (index = expert id) for ``tokens`` tokens choosing ``top_k``."""
    total = tokens * top_k
    if routing.kind == "counts":
        c = routing.counts
        if len(c) != n_experts:
            raise ConfigError(f"has {len(c)} entries for {n_experts} experts", path="counts")
        if sum(c) != total:
            raise ConfigError(f"sum to {sum(c)}, but {tokens} tokens x top-{top_k} make {total}",
                              path="counts")
        if any(x < 0 or x > tokens for x in c):
            raise ConfigError(f"each must be in 0..{tokens} (a token picks an expert at most "
                              "once)", path="counts")
        return tuple(c)
    if routing.kind == "uniform":
        weights = [1.0] * n_experts
    else:
        weights = [1.0 / (i + 1) ** routing.s for i in range(n_experts)]
    return tuple(_capped_shares(total, weights, tokens))
