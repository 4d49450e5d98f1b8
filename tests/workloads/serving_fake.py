"""A closed-form cost model for engine tests (tests only; the product uses SimCost)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixforge.workloads.serving.interface import IterationCost, MemoryPlan


class LinearCost:
    """seconds = base + per_token * tokens + per_kv * attended KV tokens; energy = power x time."""

    energy_components = ("compute_j", "static_j")
    units = ("xpu",)
    n_experts = 0

    def __init__(self, *, base: float = 5e-3, per_token: float = 2e-5, per_kv: float = 1e-8,
                 kv_tokens: int = 200_000, kv_bytes_per_token: float = 1000.0) -> None:
        self.base, self.per_token, self.per_kv = base, per_token, per_kv
        self.memory = MemoryPlan(device_bytes=int(kv_tokens * kv_bytes_per_token) + 10,
                                 weight_bytes=10, activation_bytes=0,
                                 kv_bytes_per_token=kv_bytes_per_token)
        self.calls = 0

    def prefill_seconds(self, n: int) -> float:
        return self.base + self.per_token * n + self.per_kv * n * (n + 1) / 2

    def iteration(self, prefill_start: np.ndarray, prefill_len: np.ndarray,
                  decode_kv: np.ndarray) -> IterationCost:
        self.calls += 1
        tokens = int(prefill_len.sum()) + decode_kv.size
        end = prefill_start + prefill_len
        kv = float(decode_kv.sum()) + float(((end * (end + 1) - prefill_start
                                              * (prefill_start + 1)) / 2).sum())
        secs = self.base + self.per_token * tokens + self.per_kv * kv
        one = np.array([secs])
        return IterationCost(seconds=secs, energy_j=np.array([300.0 * secs, 100.0 * secs]),
                             unit_busy_s=one, unit_flops=np.array([2e9 * tokens]),
                             unit_bytes=np.array([1e6 + kv]), unit_energy_j=one * 400.0)

    def describe(self) -> dict[str, Any]:
        return {"model": "linear test cost"}
