"""cocotb testbench of ``LogicPIMUnit`` fed by a DRAM-side model; bit-exact vs models/.

Environment: ``MIXFORGE_TB_PARAMS`` (JSON): ``config`` (PimConfig fields), ``jobs``
([[mode, tokens, K, N], ...]), ``dram`` (DramModel fields), ``seed``, ``out`` (result JSON).
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from mixforge.hw.pim.config import MODES, DramModel, PimConfig
from mixforge.hw.pim.reference import pack_job, reference_job


class DramSide:
    """In-order burst source: latency, open-row hits / misses, random stalls, bounded queue."""

    def __init__(self, model: DramModel, beats: list[int], beat_bytes: int,
                 rng: np.random.Generator):
        self.m, self.beats, self.bb, self.rng = model, beats, beat_bytes, rng
        self.issued = 0
        self.inflight: deque[tuple[int, int]] = deque()  # (ready cycle, beat index)
        self.open_row = -1
        self.last_ready = -1
        self.misses = 0
        self.stall_cycles = 0

    def tick(self, now: int) -> None:
        """Issue at most one burst this cycle."""
        if self.issued >= len(self.beats) or len(self.inflight) >= self.m.queue:
            return
        if self.rng.random() < self.m.stall:
            self.stall_cycles += 1
            return
        row = (self.issued * self.bb) // self.m.row_bytes
        penalty = 0
        if row != self.open_row:
            penalty, self.open_row = self.m.row_miss, row
            self.misses += 1
        ready = max(self.last_ready + 1, now + self.m.latency + penalty)
        self.last_ready = ready
        self.inflight.append((ready, self.issued))
        self.issued += 1

    def head(self, now: int) -> int | None:
        if self.inflight and self.inflight[0][0] <= now:
            return self.inflight[0][1]
        return None


@cocotb.test()
async def pim_jobs(dut):
    p = json.loads(os.environ["MIXFORGE_TB_PARAMS"])
    cfg = PimConfig(**p["config"])
    dram = DramModel(**p["dram"])
    rng = np.random.default_rng(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.w__valid.value = 0
    dut.act__valid.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    results, bad = [], []
    for mode, tokens, k, n in p["jobs"]:
        x, w, act_words, beats = pack_job(cfg, mode, tokens, k, n, rng)
        expected = reference_job(cfg, mode, x, w)
        for addr, word in act_words:  # load the activation buffer (not timed)
            dut.act__valid.value = 1
            dut.act__payload.value = addr | (word << _bits(cfg.max_tokens * cfg.max_k_words))
            await RisingEdge(dut.clk)
        dut.act__valid.value = 0
        dut.mode.value = MODES[mode]
        dut.tokens.value = tokens
        dut.k_words.value = -(-k // cfg.word_acts)
        await RisingEdge(dut.clk)
        src = DramSide(dram, beats, cfg.width // 8, rng)
        got = np.zeros((tokens, n), np.int64)
        n_out = col = 0
        t = 0
        first = last_accept = last_out = -1
        starved = 0
        while n_out < tokens * n:
            src.tick(t)
            idx = src.head(t)
            dut.w__valid.value = int(idx is not None)
            if idx is not None:
                dut.w__payload.value = beats[idx]
            await ReadOnly()
            ready = int(dut.w__ready.value)
            if idx is not None:
                first = t if first < 0 else first
            elif first >= 0 and (src.inflight or src.issued < len(beats)):
                starved += 1  # the unit waits for DRAM after the first burst arrived
            if idx is not None and ready:
                src.inflight.popleft()
                last_accept = t
            if int(dut.o__valid.value):
                word = int(dut.o__payload.value)
                vb = cfg.acc_bits
                val = word & ((1 << vb) - 1)
                val = val - (1 << vb) if val >> (vb - 1) else val
                tb_ = _bits(cfg.max_tokens)
                tok = (word >> vb) & ((1 << tb_) - 1)
                lastf = (word >> (vb + tb_)) & 1
                got[tok, col] = val
                n_out += 1
                last_out = t
                if lastf:
                    col += 1
            await RisingEdge(dut.clk)
            t += 1
            assert t < 100 * (len(beats) * tokens + 100), "timeout"
        dut.w__valid.value = 0
        await ClockCycles(dut.clk, 2)
        diff = np.argwhere(got != expected)
        if len(diff):
            b, j = (int(v) for v in diff[0])
            bad.append(f"{mode} {tokens}x{k}x{n}: {len(diff)} mismatches; first y[{b},{j}] got "
                       f"{int(got[b, j]):#x} expected {int(expected[b, j]):#x}")
        span = last_accept - first + 1
        nbytes = len(beats) * cfg.width // 8
        results.append({"mode": mode, "tokens": tokens, "k": k, "n": n, "w_fmt": mode[-4:],
                        "beats": len(beats), "bytes": nbytes, "cycles": last_out - first,
                        "ideal_cycles": cfg.ideal_cycles(mode, tokens, k, n),
                        "bytes_per_cycle": nbytes / span, "starved_cycles": starved,
                        "row_misses": src.misses, "dram_stall_cycles": src.stall_cycles,
                        "mismatches": int(len(diff))})
    if p.get("out"):
        with open(p["out"], "w") as fh:
            json.dump({"config": p["config"], "dram": p["dram"], "jobs": results}, fh, indent=1)
    assert not bad, "; ".join(bad)


def _bits(n: int) -> int:
    """Width of an Amaranth ``range(n)`` field."""
    return (n - 1).bit_length()
