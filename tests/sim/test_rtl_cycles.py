"""The simulator's compute cycles equal the cycles of the generated PE array in Verilator.

For every configuration, >= 20 GEMM shapes run through the cocotb testbench of
``mixforge.hw.array`` (bit-exact checked there); the simulator, mapping each GEMM as one tile
on an xPU with that array, must report exactly the measured first-input-to-last-output cycles.
Marked ``rtl`` and ``slow`` (one Verilator build per configuration).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mixforge.sim.arch import PeConfig, PeMode, SramBuffer, SramConfig, load_arch
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.mapping import Gemm, Mapping

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"
_rng = np.random.default_rng(11)
SHAPES = [(1, 1, 1), (4, 4, 4), (5, 7, 6), (9, 16, 4), (1, 9, 3), (3, 1, 9), (16, 16, 16),
          (2, 5, 13)] + [tuple(int(x) for x in _rng.integers(1, 20, 3)) for _ in range(14)]


@pytest.mark.parametrize(("dataflow", "double_buffer"), [("ws", False), ("ws", True),
                                                         ("os", False)])
def test_sim_cycles_equal_verilator(dataflow: str, double_buffer: bool) -> None:
    from mixforge.hw.array.config import ArrayConfig
    from mixforge.hw.array.measure import run_array_tb
    from mixforge.toolchain import simulator_available

    if not simulator_available("verilator"):
        pytest.skip("verilator not available")
    cfg = ArrayConfig(rows=4, cols=4, dataflow=dataflow,  # type: ignore[arg-type]
                      double_buffer=double_buffer, pe="shift_add", w_bits=4, a_bits=8)
    run = run_array_tb(cfg, SHAPES)
    assert run.passed, run.failures
    assert len(run.gemms) >= 20
    arch = load_arch(EXAMPLES / "ws32.yaml")
    big = SramBuffer(size_bytes=1 << 24, width_bits=1 << 16)
    pe = PeConfig(kind="shift_add", modes=(PeMode("int4", "int8"),))
    arch = replace(arch, xpu=replace(arch.xpu, array=cfg.spec, pe=pe,
                                     sram=SramConfig(big, big, big)))
    for g in run.gemms:
        op = Gemm(g.m, g.k, g.n, w="int4", a="int8")
        t = simulate_gemm(arch, op, Mapping(g.m, g.k, g.n, "nkm", False))
        assert t.compute_cycles == g.gemm_cycles, (g.m, g.k, g.n)
