"""Routed experts of every MoE layer, per iteration: routing draws, per-expert GEMM tables,
Duplex co-processing (vectorised over layers), expert parallelism, HOBBIT-like hot experts.

Per-expert GEMM costs are simulated at the token grid points (:mod:`.grid`) for each unit
(the policy's, xPU, PIM) and interpolated. Co-processing applies
:meth:`Simulator.co_process`'s rule (longest first, each expert to the unit that finishes it
first) to every layer at once. The hot set of each layer is the ``n_hot`` experts with the
highest load decayed by 0.9 per iteration; promoting an expert moves its hot-format weights over
the host link (time added to the iteration).
"""

from __future__ import annotations

import numpy as np

from mixforge.errors import ConfigError
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Vector
from mixforge.workloads.config import ModelConfig
from mixforge.workloads.lowering import FormatLowering
from mixforge.workloads.recipes import Recipe
from mixforge.workloads.serving.grid import CostVec, grid, gridded
from mixforge.workloads.serving.routing import Routing, RoutingSampler, expert_popularity

__all__ = ["ExpertCost"]


class ExpertCost:
    """Cost of the routed experts of one iteration (see the module doc).

    Parameters
    ----------
    co
        Co-process each layer's expert GEMMs on xPU and PIM.
    expert_parallel
        ``serial`` (one after another) or ``parallel`` (each expert on its own identical
        device: the slowest bounds the layer; all-to-all not modelled).
    n_hot
        Hot experts per layer (0 = none).
    routing_pool
        Routing draws kept per (token count, hot set) (see ``SimCost``).
    """

    def __init__(self, sim: Simulator, vec: CostVec, model: ModelConfig, recipe: Recipe,
                 lowering: FormatLowering, *, co: bool, expert_parallel: str, n_hot: int,
                 routing: Routing, seed: int, routing_pool: int, host_bw: float) -> None:
        m = model
        self.sim, self._v, self.model, self.recipe, self._eb = sim, vec, model, recipe, lowering
        self.co, self.expert_parallel, self.n_hot = co, expert_parallel, n_hot
        self.host_bw = host_bw
        self.moe_layers = [i for i in range(m.num_layers) if m.is_moe_layer(i)]
        self.n_experts = m.n_experts
        if not 0 <= n_hot <= self.n_experts:
            raise ConfigError(f"must be in [0, {self.n_experts}], not {n_hot}",
                              path="hot_experts")
        self.hits = self.misses = self.switches = 0
        rng = np.random.default_rng([seed, 1])
        pop = expert_popularity(routing, len(self.moe_layers), self.n_experts, rng)
        self._sampler = RoutingSampler(pop, m.top_k, rng)
        self._pick = np.random.default_rng([seed, 2])
        self._pool_k = routing_pool
        self._pool: dict[tuple[int, bytes], list[tuple[np.ndarray, np.ndarray] | None]] = {}
        self._cache: dict[int, np.ndarray] = {}
        layers = len(self.moe_layers)
        self._score = np.zeros((layers, self.n_experts))
        self._hot = np.zeros((layers, self.n_experts), dtype=bool)
        self._hot[:, :n_hot] = True  # before any load is seen: the lowest ids
        q = recipe.weight("experts", self.moe_layers[0], 0, hot=True)
        self._hot_bytes = 3 * m.hidden_size * m.moe_intermediate_size * q.bits_per_elem / 8
        # per-expert tables [hot, kind (gate_up/down), unit (policy/xpu/pim/conversions),
        # tokens] -> cost vector; NaN = not simulated yet
        self._tab = np.full((2, 2, 4, 65, vec.size), np.nan)
        self._tab[:, :, :, 0] = 0.0
        self._hot_rows = ((0,) if n_hot == 0 else (1,) if n_hot >= self.n_experts else (0, 1))

    def _expert_rows(self, ms: np.ndarray) -> None:
        """Simulate one expert's GEMMs (and format conversions) for token counts ``ms``."""
        m = self.model
        h, inter = m.hidden_size, m.moe_intermediate_size
        layer = self.moe_layers[0]
        for te in ms.tolist():
            for hot in self._hot_rows:
                q = self.recipe.weight("experts", layer, 0, hot=bool(hot))
                for kind, (nm, k, n) in enumerate((("expert.gate_up", h, 2 * inter),
                                                   ("expert.down", inter, h))):
                    ops, _ = self._eb.linear("experts", nm, te, k, n, q)
                    g = ops[-1]
                    conv = ops[:-1]
                    chosen = self.sim.run_op(g)  # the policy's unit; the other one forced
                    self._tab[hot, kind, 0, te] = self._v.of(chosen)
                    self._tab[hot, kind, 1, te] = self._v.of(
                        chosen if chosen.unit == "xpu" else self.sim.run_op(g, "xpu"))
                    try:
                        self._tab[hot, kind, 2, te] = self._v.of(
                            chosen if chosen.unit == "pim" else self.sim.run_op(g, "pim"))
                    except ConfigError:  # no PIM mode for these formats: never chosen
                        row = np.zeros(self._v.size)
                        row[0] = 1e30
                        self._tab[hot, kind, 2, te] = row
                    self._tab[hot, kind, 3, te] = (self._v.of(self.sim.run_ops(conv))
                                                   if conv else 0.0)

    def _expert_cost(self, counts: np.ndarray, hot: np.ndarray) -> np.ndarray:
        """Cost vector of the routed experts of every MoE layer (``counts``: layers x
        experts), vectorised over layers: per-expert costs from tables simulated on the token
        grid of the dense part (:func:`_grid`) and interpolated between grid points."""
        lo, hi, f = grid(counts)
        need = np.unique(np.concatenate((lo.ravel(), hi.ravel())))
        need = need[need > 0]
        if need.size:
            if need[-1] >= self._tab.shape[3]:
                grow = max(int(need[-1]) + 1, 2 * self._tab.shape[3])
                tab = np.full((*self._tab.shape[:3], grow, self._v.size), np.nan)
                tab[:, :, :, :self._tab.shape[3]] = self._tab
                self._tab = tab
            missing = need[np.isnan(self._tab[self._hot_rows[0], 0, 1, need, 0])]
            self.misses += int(missing.size)
            self.hits += int(need.size - missing.size)
            if missing.size:
                self._expert_rows(missing)
        active = (counts > 0)[..., None]
        h = hot.astype(np.int64)
        w = f[..., None]

        def row(kind: int, unit: int) -> np.ndarray:
            a = self._tab[h, kind, unit, lo]
            b = self._tab[h, kind, unit, hi]
            return np.where(active, a + w * (b - a), 0.0)

        v = np.zeros(self._v.size)
        per_expert = np.zeros((*counts.shape, self._v.size))
        for kind in (0, 1):
            v += row(kind, 3).sum(axis=(0, 1))  # format conversions, before the GEMMs
            if self.expert_parallel == "parallel":
                per_expert += row(kind, 0)
            elif self.co:
                v += self._greedy(row(kind, 1), row(kind, 2))
            else:
                v += row(kind, 0).sum(axis=(0, 1))
        if self.expert_parallel == "parallel":  # each expert on its own device
            v += per_expert.sum(axis=(0, 1))
            v[0] += float(per_expert[..., 0].max(axis=1).sum() - per_expert[..., 0].sum())
        return v

    def _greedy(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """:meth:`Simulator.co_process`'s rule, vectorised over layers: experts longest
        first, each to the unit where it would finish first; a layer lasts until both units
        are done (DRAM interference between the units is not added here: none with
        ``bank_partition: split``)."""
        tx, tp = x[..., 0], p[..., 0]
        layers, experts = tx.shape
        order = np.argsort(-np.minimum(tx, tp), axis=1, kind="stable")
        rows = np.arange(layers)
        lx = np.zeros(layers)
        lp = np.zeros(layers)
        on_pim = np.zeros((layers, experts), dtype=bool)
        for j in range(experts):
            idx = order[:, j]
            a, b = tx[rows, idx], tp[rows, idx]
            to_p = lp + b < lx + a
            lp += np.where(to_p, b, 0.0)
            lx += np.where(to_p, 0.0, a)
            on_pim[rows, idx] = to_p
        chosen = np.where(on_pim[..., None], p, x)
        v = chosen.sum(axis=(0, 1))
        v[0] = float(np.maximum(lx, lp).sum())
        vv = self._v
        v[vv.busy] = [lx.sum(), lp.sum()]
        return v

    def _routed(self, tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, expert cost) of one iteration, from the routing pool."""
        if not self._pool_k:
            counts = self._sampler.sample(tokens)
            return counts, self._expert_cost(counts, self._hot)
        key = (tokens, self._hot.tobytes() if 0 < self.n_hot < self.n_experts else b"")
        # above 256 tokens (prefill iterations, rarely repeated) a layer's expert loads vary
        # little in relative terms: fewer draws per token count
        k = self._pool_k if tokens <= 256 else max(1, self._pool_k // 8)
        pool = self._pool.setdefault(key, [None] * k)
        i = int(self._pick.integers(k))
        entry = pool[i]
        if entry is None:
            counts = self._sampler.sample(tokens)
            entry = pool[i] = (counts, self._expert_cost(counts, self._hot))
        return entry

    def step(self, tokens: int) -> tuple[np.ndarray, np.ndarray, float]:
        counts, v = self._routed(tokens)
        extra_s = 0.0
        if self.n_hot and self.n_hot < self.n_experts:
            self._score = 0.9 * self._score + counts
            order = np.argsort(-self._score, axis=1, kind="stable")[:, :self.n_hot]
            new = np.zeros_like(self._hot)
            np.put_along_axis(new, order, True, axis=1)
            promoted = int(np.count_nonzero(new & ~self._hot))
            if promoted:
                self.switches += promoted
                extra_s = promoted * self._hot_bytes / self.host_bw
            self._hot = new
        total = int(counts.sum()) // len(self.moe_layers)
        act = gridded(self._expert_act, total) if total else 0.0
        return v + len(self.moe_layers) * act, counts.sum(axis=0), extra_s

    def _expert_act(self, total: int) -> np.ndarray:
        """SwiGLU of ``total`` routed token-expert pairs of one layer."""
        act = self._cache.get(total)
        if act is None:
            op = Vector("swiglu", elems=total * self.model.moe_intermediate_size,
                        fmt=self.recipe.activations, inputs=2, name="expert.swiglu")
            act = self._cache[total] = self._v.of(self.sim.run_op(op))
        return act

    # ------------------------------------------------------------------ protocol
