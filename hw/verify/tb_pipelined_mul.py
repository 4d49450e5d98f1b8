"""cocotb testbench: PipelinedMul against the NumPy model, every operand pair.

Parameters arrive in the environment: MIXFORGE_TB_PARAMS (JSON: a_width, b_width, stages).
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge


def _model(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) * b.astype(np.int64)


@cocotb.test()
async def exhaustive_products(dut):
    p = json.loads(os.environ["MIXFORGE_TB_PARAMS"])
    aw, bw, stages = p["a_width"], p["b_width"], p["stages"]
    a_vals = np.arange(-(1 << (aw - 1)), 1 << (aw - 1), dtype=np.int64)
    b_vals = np.arange(-(1 << (bw - 1)), 1 << (bw - 1), dtype=np.int64)
    aa, bb = (x.ravel() for x in np.meshgrid(a_vals, b_vals, indexing="ij"))
    expected = _model(aa, bb)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.valid_in.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    pending: deque[int] = deque()
    got_n = mismatches = 0
    first_bad = ""
    # Idle every 7th cycle so the valid pipeline is exercised, not only the data path.
    n, i, cycle = len(aa), 0, 0
    a_list, b_list, e_list = aa.tolist(), bb.tolist(), expected.tolist()
    while got_n < n:
        if i < n and cycle % 7 != 6:
            dut.a.value = a_list[i]
            dut.b.value = b_list[i]
            dut.valid_in.value = 1
            pending.append(i)
            i += 1
        else:
            dut.valid_in.value = 0
        await RisingEdge(dut.clk)
        await ReadOnly()
        cycle += 1
        if int(dut.valid_out.value):
            j = pending.popleft()
            got = dut.p.value.to_signed()
            if got != e_list[j]:
                mismatches += 1
                if not first_bad:
                    first_bad = (f"a={a_list[j] & ((1 << aw) - 1):#x} "
                                 f"b={b_list[j] & ((1 << bw) - 1):#x} -> got {got:#x} "
                                 f"expected {e_list[j]:#x}")
            got_n += 1
        await cocotb.triggers.NextTimeStep()
        if cycle > 2 * n + 100:
            break
    assert got_n == n, f"only {got_n} of {n} results arrived"
    assert len(pending) == 0
    assert mismatches == 0, f"{mismatches} mismatches; first: {first_bad}"
    dut._log.info("checked %d vectors, latency %d", n, stages)


@cocotb.test()
async def latency_matches_property(dut):
    p = json.loads(os.environ["MIXFORGE_TB_PARAMS"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.valid_in.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    dut.a.value, dut.b.value, dut.valid_in.value = 3, -2, 1
    await RisingEdge(dut.clk)
    dut.valid_in.value = 0
    seen = 1
    await ReadOnly()
    while not int(dut.valid_out.value):
        await RisingEdge(dut.clk)
        await ReadOnly()
        seen += 1
        assert seen <= 64, "no result"
    assert seen == p["stages"], f"latency {seen} != declared {p['stages']}"
    assert dut.p.value.to_signed() == -6
