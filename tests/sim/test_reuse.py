"""The shared L2: footprints of re-fetched operands, capacity sharing, and its effect on traffic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Gemm
from mixforge.sim.mapping.reuse import core_trips, l2_hits, refetch_footprint

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _trips(m: int, k: int, n: int) -> dict[str, np.ndarray]:
    return {"m": np.asarray(m), "k": np.asarray(k), "n": np.asarray(n)}


def test_footprint_of_refetched_operands() -> None:
    t = _trips(4, 8, 16)
    # order n, m, k: B (k, n) is re-read for every m; between two uses the k loop sweeps it
    assert float(refetch_footprint("nmk", "kn", t, 100.0)) == 100.0 * 8
    # A (m, k) is re-read for every n: the whole of A is swept in between
    assert float(refetch_footprint("nmk", "mk", t, 10.0)) == 10.0 * 4 * 8
    # k innermost-free: A never re-read in order m, k, n
    assert float(refetch_footprint("mkn", "mk", t, 10.0)) == 0.0
    # a re-fetching loop with a single trip re-fetches nothing
    assert float(refetch_footprint("nmk", "kn", _trips(1, 8, 16), 100.0)) == 0.0


def test_core_trips_split_the_outer_loop() -> None:
    tc = core_trips("nmk", _trips(4, 8, 16), 5)
    assert int(tc["n"]) == 4 and int(tc["m"]) == 4


def test_l2_capacity_is_shared() -> None:
    a, b = np.array([30.0, 30.0, 80.0]), np.array([10.0, 30.0, 10.0])
    hit_a, hit_b = l2_hits(a, b, 50.0)
    assert list(hit_a) == [True, True, False]
    assert list(hit_b) == [True, False, True]


def test_l2_cuts_dram_traffic_of_big_gemms() -> None:
    arch = load_arch(EXAMPLES / "h100_like.yaml")
    no_l2 = replace(arch, xpu=replace(arch.xpu, l2=None))
    op = Gemm(2048, 4096, 4096, w="float16", a="float16")
    compulsory = (2048 * 4096 + 4096 * 4096 + 2048 * 4096) * 2
    with_l2 = Simulator(arch).run_op(op)
    without = Simulator(no_l2).run_op(op)
    assert compulsory <= with_l2.dram_bytes <= 1.3 * compulsory
    assert without.dram_bytes > 3 * with_l2.dram_bytes
    assert with_l2.seconds < without.seconds
    assert with_l2.actions.sram_l2_bits > 0 and without.actions.sram_l2_bits == 0
    for r in (with_l2, without):
        assert r.seconds >= r.roofline_seconds
