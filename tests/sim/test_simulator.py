"""Simulator: never faster than the roofline, cached per shape, Op/B dispatch to logic-PIM."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Attention, Gemm, MoeGate, Vector, gemv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _ops(w: str, a: str) -> list:  # type: ignore[type-arg]
    return [
        Gemm(512, 1024, 1024, w=w, a=a), Gemm(100, 300, 70, w=w, a=a),
        gemv(4096, 4096, w=w, a=a, batch=4), Gemm(64, 2048, 1024, w=w, a=a, group_size=128),
        Gemm(16, 512, 768, batch=8, shared_b=False, w=w, a=a),
        Vector("rmsnorm", 4096 * 8), Vector("silu", 14336 * 8, inputs=2),
        MoeGate(64, 4096, 8, 2, a="float16", w="float16"),
    ]


CASES = [("ws32", "int8", "int8"), ("ws32", "int4", "int8"), ("mixpe_w4a8", "int4", "int8"),
         ("h100_like", "float16", "float16"), ("h100_like", "float8_e4m3fn", "float8_e4m3fn"),
         ("duplex", "float16", "float16"), ("duplex", "int4", "float16")]


@pytest.mark.parametrize(("hw", "w", "a"), CASES)
def test_never_faster_than_roofline(hw: str, w: str, a: str) -> None:
    arch = load_arch(EXAMPLES / f"{hw}.yaml")
    simulator = Simulator(arch, dispatch="threshold")
    ops = _ops(w, a)
    if a == "float16":
        ops += [Attention(8, 1, 1024, 32, 8, 128), Attention(1, 256, 256, 32, 8, 64, fused=False)]
    for op in ops:
        if isinstance(op, MoeGate) and not any(m.w == "float16" for m in arch.xpu.pe.modes):
            continue
        for unit in (None, "xpu", "pim"):
            if unit == "pim" and arch.pim is None:
                continue
            try:
                r = simulator.run_op(op, unit)
            except ConfigError:
                assert unit == "pim"  # the op kind has no PIM implementation
                continue
            assert r.seconds >= r.roofline_seconds > 0, (op, unit)
            assert r.energy_j > 0
            assert 0 < r.utilisation <= 1 + 1e-9
            assert r.cycles >= r.seconds * arch.xpu.freq_hz - 1


def test_results_are_cached_per_shape() -> None:
    sim_ = Simulator(load_arch(EXAMPLES / "ws32.yaml"))
    first = sim_.run_op(Gemm(64, 256, 256))
    assert sim_.run_op(Gemm(64, 256, 256)) is first
    assert sim_.run_op(Gemm(65, 256, 256)) is not first
    assert "hits=1" in sim_.cache_info()


def test_memory_to_compute_transition() -> None:
    """MARLIN-like: W4 weights help while memory-bound (small batch), not once compute-bound."""
    arch = load_arch(EXAMPLES / "h100_like.yaml")
    simulator = Simulator(arch)
    small = [simulator.run_op(gemv(8192, 8192, w=w, a="float16", batch=1))
             for w in ("float16", "int4")]
    assert small[0].bound == "memory"
    assert small[0].seconds / small[1].seconds > 1.5
    assert small[0].dram_bytes > 2 * small[1].dram_bytes


def test_duplex_dispatches_low_opb_to_pim() -> None:
    arch = load_arch(EXAMPLES / "duplex.yaml")
    simulator = Simulator(arch)
    decode = simulator.run_op(Attention(32, 1, 2048, 64, 8, 128))
    assert decode.unit == "pim" and decode.bound == "pim"
    prefill = simulator.run_op(Gemm(4096, 4096, 4096, w="float16", a="float16"))
    assert prefill.unit == "xpu"
    xpu_only = Simulator(arch, dispatch="xpu").run_op(Attention(32, 1, 2048, 64, 8, 128))
    assert decode.seconds < xpu_only.seconds


def test_co_processing_balances_units() -> None:
    arch = load_arch(EXAMPLES / "duplex.yaml")
    simulator = Simulator(arch)
    experts = [Gemm(16 + i, 4096, 14336, w="float16", a="float16", name=f"e{i}")
               for i in range(8)]
    both = simulator.co_process(experts)
    alone = simulator.run_concurrent(experts, ())
    assert both.seconds < alone.seconds
    assert {r.unit for r in both.ops} == {"xpu", "pim"}
    assert both.seconds >= both.roofline_seconds


def test_unsupported_format_is_a_config_error() -> None:
    simulator = Simulator(load_arch(EXAMPLES / "ws32.yaml"))
    with pytest.raises(ConfigError, match="no PE mode for w=float16"):
        simulator.run_op(Gemm(8, 8, 8, w="float16", a="float16"))
