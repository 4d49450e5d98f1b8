"""The max-plus reduction equals a plain step-by-step simulation of DMA/compute overlap."""

from __future__ import annotations

import numpy as np
import pytest

from mixforge.sim.engine.pipeline import chain_product, makespan, mp_power, tile_matrices


def _reference(d: np.ndarray, c: np.ndarray, double_buffer: bool) -> float:
    dma = comp = comp_prev = 0.0
    for di, ci in zip(d, c, strict=True):
        start = max(dma, comp_prev) if double_buffer else max(dma, comp)
        dma_end = start + di
        comp_prev, comp = comp, max(comp, dma_end) + ci
        dma = dma_end
    return max(dma, comp)


@pytest.mark.parametrize("double_buffer", [True, False])
@pytest.mark.parametrize("n", [1, 2, 5, 64, 333])
def test_matches_reference(double_buffer: bool, n: int) -> None:
    rng = np.random.default_rng(n)
    d, c = rng.random(n) * 10, rng.random(n) * 10
    got = makespan(chain_product(tile_matrices(d, c, double_buffer)))
    assert got == pytest.approx(_reference(d, c, double_buffer))
    rep = makespan(mp_power(chain_product(tile_matrices(d, c, double_buffer)), 3))
    assert rep == pytest.approx(_reference(np.tile(d, 3), np.tile(c, 3), double_buffer))


def test_double_buffering_overlaps() -> None:
    d = np.full(100, 5.0)
    c = np.full(100, 5.0)
    assert makespan(chain_product(tile_matrices(d, c, True))) == pytest.approx(505.0)
    assert makespan(chain_product(tile_matrices(d, c, False))) == pytest.approx(1000.0)
