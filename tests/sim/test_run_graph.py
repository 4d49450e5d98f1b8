"""Simulator.run_graph: sums nodes x count, co-processes multi-op nodes, groups by op class."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.engine.graph import GraphNode, op_bytes, op_flops
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Gemm, Vector

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


def test_graph_sums_counts_and_classes() -> None:
    sim = Simulator(load_arch(HW / "h100_like.yaml"))
    g = Gemm(m=4, k=4096, n=4096, w="float16", a="float16")
    v = Vector("rmsnorm", elems=4 * 4096)
    res = sim.run_graph([GraphNode((g,), count=32, op_class="mlp"),
                         GraphNode((v,), count=64, op_class="norm")])
    one_g, one_v = sim.run_op(g), sim.run_op(v)
    assert res.seconds == pytest.approx(32 * one_g.seconds + 64 * one_v.seconds)
    assert res.energy_j == pytest.approx(32 * one_g.energy_j + 64 * one_v.energy_j)
    assert res.per_class["mlp"].flops == 32 * 2 * 4 * 4096 * 4096
    assert res.per_class["mlp"].bound == "memory"
    assert res.seconds >= res.roofline_seconds
    assert op_flops(g) == 2 * g.macs
    assert op_bytes(g) == 2 * (4096 * 4096 + 2 * 4 * 4096)


def test_multi_op_node_is_co_processed_on_duplex() -> None:
    sim = Simulator(load_arch(HW / "duplex.yaml"))
    experts = tuple(Gemm(m=8, k=4096, n=14336, w="float16", a="float16", name=f"e{i}")
                    for i in range(8))
    res = sim.run_graph([GraphNode(experts, op_class="experts")])
    serial = sum(sim.run_op(e, "xpu").seconds for e in experts)
    assert res.seconds < serial
    assert set(res.unit_seconds) <= {"xpu", "pim"}


def test_bad_node() -> None:
    with pytest.raises(ConfigError):
        GraphNode(())
    with pytest.raises(ConfigError):
        GraphNode((Vector("add", elems=4),), count=0)
