"""cocotb testbench of ``LogicPIMUnit`` fed by a DRAM-side model; bit-exact vs models/.

Environment: ``MIXFORGE_TB_PARAMS`` (JSON): ``config`` (PimUnitConfig fields), ``jobs``
([[mode, tokens, K, N, act], ...]), ``dram`` (DramModel fields), ``out_ready`` (probability that
the consumer takes a result in a cycle), ``seed``, ``out`` (result JSON).

The checker is in order: results must come column by column, tokens 0..T-1 within a column
(``last`` on T-1), exactly once each, and equal ``reference_job`` bit for bit.
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from mixforge.hw.pim.config import DramModel, PimUnitConfig, mode_code
from mixforge.hw.pim.reference import pack_job, random_operands, reference_job


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
    cfg = PimUnitConfig(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in p["config"].items()})
    dram = DramModel(**p["dram"])
    p_ready = float(p.get("out_ready", 1.0))
    rng = np.random.default_rng(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.w__valid.value = 0
    dut.act__valid.value = 0
    dut.o__ready.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    results, bad = [], []
    tb_ = _bits(cfg.max_tokens)
    abits = _bits(cfg.max_tokens * cfg.max_k_words)
    for mode, tokens, k, n, a_fmt in p["jobs"]:
        w_fmt = mode.split("_", 1)[1]
        specials = not cfg.int_output(w_fmt, a_fmt)
        x, w = random_operands(w_fmt, a_fmt, tokens, k, n, rng, specials=specials)
        expected = reference_job(cfg, w_fmt, a_fmt, x, w)
        act_words, beats = pack_job(cfg, w_fmt, a_fmt, x, w)
        for addr, word in act_words:  # load the activation buffer (not timed)
            dut.act__valid.value = 1
            dut.act__payload.value = addr | (word << abits)
            await RisingEdge(dut.clk)
        dut.act__valid.value = 0
        dut.mode.value = mode_code(w_fmt, a_fmt)
        dut.tokens.value = tokens
        dut.k_words.value = cfg.k_words(w_fmt, a_fmt, k)
        await RisingEdge(dut.clk)
        src = DramSide(dram, beats, cfg.width // 8, rng)
        got = np.zeros((tokens, n), np.int64)
        order_err = ""
        n_out = 0
        t = 0
        first = last_accept = last_out = -1
        starved = held = 0
        while n_out < tokens * n:
            src.tick(t)
            idx = src.head(t)
            dut.w__valid.value = int(idx is not None)
            if idx is not None:
                dut.w__payload.value = beats[idx]
            o_ready = int(p_ready >= 1.0 or rng.random() < p_ready)
            dut.o__ready.value = o_ready
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
                if not o_ready:
                    held += 1
                    if ready and not order_err:
                        order_err = "w.ready high while a result is held"
                else:
                    word = int(dut.o__payload.value)
                    val = word & 0xFFFFFFFF
                    if cfg.int_output(w_fmt, a_fmt) and val >> 31:
                        val -= 1 << 32
                    tok = (word >> 32) & ((1 << tb_) - 1)
                    lastf = (word >> (32 + tb_)) & 1
                    col, want_tok = divmod(n_out, tokens)
                    if (tok, lastf) != (want_tok, int(want_tok == tokens - 1)) and \
                            not order_err:
                        order_err = (f"result {n_out}: token {tok} last {lastf}, expected "
                                     f"token {want_tok}")
                    got[want_tok, col] = val
                    n_out += 1
                    last_out = t
            await RisingEdge(dut.clk)
            t += 1
            assert t < 100 * (len(beats) * tokens * 2 + 100), "timeout"
        dut.w__valid.value = 0
        dut.o__ready.value = 1
        await ClockCycles(dut.clk, 3)
        await ReadOnly()
        if int(dut.o__valid.value) and not order_err:
            order_err = "an extra result after the last one"
        await RisingEdge(dut.clk)
        tag = f"{mode}/{a_fmt} {tokens}x{k}x{n}"
        if order_err:
            bad.append(f"{tag}: {order_err}")
        diff = np.argwhere(got != expected)
        if len(diff):
            b, j = (int(v) for v in diff[0])
            bad.append(f"{tag}: {len(diff)} mismatches; first y[{b},{j}] got "
                       f"{int(got[b, j]) & 0xFFFFFFFF:#x} expected "
                       f"{int(expected[b, j]) & 0xFFFFFFFF:#x}")
        span = last_accept - first + 1
        nbytes = len(beats) * cfg.width // 8
        results.append({"mode": mode, "w_fmt": w_fmt, "a_fmt": a_fmt, "tokens": tokens,
                        "k": k, "n": n, "beats": len(beats), "bytes": nbytes,
                        "cycles": last_out - first,
                        "ideal_cycles": cfg.ideal_cycles(w_fmt, a_fmt, tokens, k, n),
                        "bytes_per_cycle": nbytes / span, "starved_cycles": starved,
                        "out_held_cycles": held, "row_misses": src.misses,
                        "dram_stall_cycles": src.stall_cycles,
                        "nan_results": int((expected == 0x7FC00000).sum()) if specials else 0,
                        "inf_results": int(((expected & 0x7FFFFFFF) == 0x7F800000).sum())
                        if specials else 0,
                        "mismatches": int(len(diff)) + int(bool(order_err))})
    if p.get("out"):
        with open(p["out"], "w") as fh:
            json.dump({"config": p["config"], "dram": p["dram"], "jobs": results}, fh, indent=1)
    assert not bad, "; ".join(bad)


def _bits(n: int) -> int:
    """Width of an Amaranth ``range(n)`` field."""
    return (n - 1).bit_length()
