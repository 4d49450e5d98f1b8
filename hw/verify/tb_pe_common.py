"""Shared cocotb machinery for the PE testbenches: clock/reset, stream driver+monitor, checker.

Not a test module (no ``@cocotb.test``). PEs have one input stream ``i`` and one output stream
``o`` (Amaranth ``lib.stream``: ``i__payload``, ``i__valid``, ``i__ready`` ...).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly


def params() -> dict[str, Any]:
    return json.loads(os.environ.get("MIXFORGE_TB_PARAMS", "{}"))


def pack(fields: Sequence[tuple[int, int]]) -> int:
    """Pack ``(value, width)`` pairs, first pair at the LSB (Amaranth StructLayout order)."""
    word, off = 0, 0
    for v, w in fields:
        word |= (int(v) & ((1 << w) - 1)) << off
        off += w
    return word


class StreamTB:
    """Clock, reset, and a driver/monitor for a one-in one-out stream PE."""

    def __init__(self, dut: Any) -> None:
        self.dut = dut
        self.ip, self.iv, self.ir = dut.i__payload, dut.i__valid, dut.i__ready
        self.op, self.ov, self.orr = dut.o__payload, dut.o__valid, dut.o__ready
        self.cycles = 0
        self.sim_seconds = 0.0

    async def reset(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        self.iv.value = 0
        self.orr.value = 1
        self.ip.value = 0
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)

    async def run(self, items: Sequence[int], n_out: int, *, rng: np.random.Generator | None =
                  None, p_valid: float = 0.7, p_ready: float = 0.6,
                  limit: int | None = None) -> list[int]:
        """Send ``items`` (packed payloads), collect ``n_out`` output payloads, in order.

        Without ``rng``: valid every cycle, ready always (one await per cycle). With ``rng``:
        random valid/ready each cycle (back-pressure and idles).
        """
        t0 = time.perf_counter()
        try:
            return await self._run(items, n_out, rng, p_valid, p_ready, limit)
        finally:
            self.sim_seconds += time.perf_counter() - t0

    async def _run(self, items: Sequence[int], n_out: int, rng: np.random.Generator | None,
                   p_valid: float, p_ready: float, limit: int | None) -> list[int]:
        outs: list[int] = []
        i, n = 0, len(items)
        limit = limit or 20 * (n + n_out) + 200
        start = self.cycles
        if rng is None:
            return await self._run_fast(items, n_out, limit)
        vs = rng.random(limit) < p_valid
        rs = rng.random(limit) < p_ready
        while len(outs) < n_out and self.cycles - start < limit:
            c = self.cycles - start
            v = bool(vs[c]) and i < n
            self.iv.value = int(v)
            if i < n:
                self.ip.value = items[i]
            self.orr.value = int(rs[c])
            await ReadOnly()
            if v and self.ir.value:
                i += 1
            if self.ov.value and rs[c]:
                outs.append(int(self.op.value))
            await FallingEdge(self.dut.clk)
            self.cycles += 1
        self.iv.value = 0
        self.orr.value = 1
        return outs


    async def _run_fast(self, items: Sequence[int], n_out: int, limit: int) -> list[int]:
        """Valid every cycle, ready always: one await per cycle.

        Speed matters here (>= 50k checked vectors/s): writes and reads go straight to the GPI
        handles (an immediate deposit at the falling edge, half a cycle before the rising edge
        samples it) instead of through cocotb's scheduled-write and LogicArray layers.
        """
        self.orr.value = 1
        self.iv.value = 1
        width = len(self.ip)
        put = self.ip._handle.set_signal_val_binstr
        get_v = self.ov._handle.get_signal_val_binstr
        get_p = self.op._handle.get_signal_val_binstr
        words = [format(x, f"0{width}b") for x in items]
        raw: list[str] = []
        edge = FallingEdge(self.dut.clk)
        n, start = len(words), self.cycles
        i = 0
        while len(raw) < n_out and self.cycles - start <= limit:
            if i < n:
                put(0, words[i])
                i += 1
            elif i == n:
                self.iv.value = 0
                i += 1
            await edge
            self.cycles += 1
            if get_v() == "1":
                raw.append(get_p())
        assert i >= n, f"only {i} of {n} inputs accepted"
        self.iv.value = 0
        return [int(x, 2) for x in raw]


class Checker:
    """In-order comparison of got vs expected with hex mismatch messages; writes a JSON report."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.vectors = 0
        self.mismatches = 0
        self.first: list[str] = []
        self.t0 = time.perf_counter()

    def compare(self, got: Sequence[int], exp: Sequence[int],
                describe: Callable[[int], str]) -> None:
        assert len(got) == len(exp), f"{self.name}: {len(got)} outputs, expected {len(exp)}"
        if params().get("corrupt_expected") and exp:  # self-test of the mismatch reporting
            exp = [exp[0] ^ 1, *exp[1:]]
        for j, (g, e) in enumerate(zip(got, exp, strict=True)):
            self.vectors += 1
            if g != e:
                self.mismatches += 1
                if len(self.first) < 10:
                    self.first.append(f"{describe(j)} -> got {g:#x} expected {e:#x}")

    def finish(self, log: Any, checked_products: int | None = None,
               sim_seconds: float | None = None) -> None:
        """Record the test; ``seconds`` is end to end (model included), ``sim_seconds`` only
        the simulation loop."""
        dt = time.perf_counter() - self.t0
        res = {"test": self.name, "vectors": checked_products or self.vectors,
               "outputs": self.vectors, "mismatches": self.mismatches,
               "first_mismatches": self.first, "seconds": dt, "sim_seconds": sim_seconds}
        out = os.environ.get("MIXFORGE_TB_RESULT")
        if out:
            with open(out, "a") as fh:
                fh.write(json.dumps(res) + "\n")
        log.info("%s: %d vectors, %d mismatches, %.2f s", self.name, res["vectors"],
                 self.mismatches, dt)
        assert self.mismatches == 0, f"{self.mismatches} mismatches; first: {self.first[:3]}"


async def measure_latency(tb: StreamTB, item: int) -> int:
    """Edges from the one accepting ``item`` (a one-element sequence) to output valid."""
    tb.orr.value = 1
    tb.ip.value = item
    tb.iv.value = 1
    await ReadOnly()
    assert tb.ir.value, "input not ready after reset"
    await FallingEdge(tb.dut.clk)  # the rising edge in between accepted the item
    tb.iv.value = 0
    seen = 1
    while not tb.ov.value:
        await FallingEdge(tb.dut.clk)
        seen += 1
        assert seen < 100, "no output"
    await FallingEdge(tb.dut.clk)
    return seen
