"""The engine's view of the hardware: what one iteration costs and how much memory there is.

The engine (:mod:`mixforge.workloads.serving.engine`) only sees this protocol; the product's
implementation is :class:`mixforge.workloads.serving.cost.SimCost` (the model layer's op graphs on
the cycle-level simulator). Tests may supply a closed-form cost model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mixforge.errors import ConfigError

__all__ = ["IterationCost", "MemoryPlan", "CostModel"]


@dataclass(frozen=True, eq=False)
class IterationCost:
    """Cost of one engine iteration.

    Parameters
    ----------
    seconds
        Wall time of the iteration on the device.
    energy_j
        Energy by component, in the order of ``CostModel.energy_components``.
    unit_busy_s, unit_flops, unit_bytes, unit_energy_j
        Per unit (``CostModel.units``): busy seconds, FLOPs, DRAM bytes and energy of this
        iteration (static energy is charged to the unit by its busy time, idle leakage to none).
    expert_tokens
        Tokens routed to each expert, summed over the MoE layers (``None`` for dense models).
    """

    seconds: float
    energy_j: np.ndarray
    unit_busy_s: np.ndarray
    unit_flops: np.ndarray
    unit_bytes: np.ndarray
    unit_energy_j: np.ndarray
    expert_tokens: np.ndarray | None = None


@dataclass(frozen=True)
class MemoryPlan:
    """Device memory split: weights + activations (reserved) + KV cache (the rest).

    ``kv_bytes_per_token`` covers every layer (K and V, all KV heads, scales of the KV format).
    """

    device_bytes: int
    weight_bytes: int
    activation_bytes: int
    kv_bytes_per_token: float
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.kv_bytes_per_token > 0:
            raise ConfigError(f"must be > 0, not {self.kv_bytes_per_token}",
                              path="kv_bytes_per_token")

    @property
    def kv_bytes(self) -> int:
        """Bytes left for the KV cache (may be negative: the model does not fit)."""
        return self.device_bytes - self.weight_bytes - self.activation_bytes

    @property
    def kv_capacity_tokens(self) -> int:
        return max(0, int(self.kv_bytes // self.kv_bytes_per_token))


class CostModel(Protocol):
    """What the serving engine needs from a device + model + recipe."""

    @property
    def energy_components(self) -> tuple[str, ...]: ...

    @property
    def units(self) -> tuple[str, ...]: ...

    @property
    def n_experts(self) -> int: ...

    @property
    def memory(self) -> MemoryPlan: ...

    def iteration(self, prefill_start: np.ndarray, prefill_len: np.ndarray,
                  decode_kv: np.ndarray) -> IterationCost:
        """Cost of one iteration: prefill chunks (tokens ``[start, start+len)`` of a prompt,
        attending over ``start+len`` tokens) and decode steps (each attending over
        ``decode_kv[i]`` tokens, including the new one)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What produced the numbers (model, recipe, device, simulator, policies, cache)."""
        ...
