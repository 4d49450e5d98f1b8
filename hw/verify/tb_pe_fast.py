"""cocotb testbench: any stream PE inside the free-running harness (``mixforge.hw.pe.harness``).

The toplevel is ``<pe>_harness``. Per batch the testbench writes the packed payloads to
``mixforge_in.hex``, pulses ``load`` and ``start``, awaits ``done`` once (the simulator runs
free, the valid/ready LFSR producing idle and back-pressure cycles), pulses ``dump`` and reads
``mixforge_out.hex`` plus the handshake cycle stamps. Every output is compared bit for bit with
the expectation from ``tb_pe_vectors`` (models/); a mismatch names the operands, got and
expected in hex. Full-rate suites also check latency and throughput on every output.

MIXFORGE_TB_PARAMS (JSON): kind and the spec fields, latency, depth, vectors, sequences, seed,
corrupt_expected (self-test of the mismatch report). Results: one JSON line per suite in
MIXFORGE_TB_RESULT (same record format as ``tb_pe_common.Checker``, plus ``sim_seconds``,
``model_seconds`` and how the expectations were cross-checked). A record's ``seconds`` run from
the start of its suite's construction to the end of its check, so they add up to the whole
loop. Two small suites (:data:`SMALL_SUITE`, e.g. MultiFormatMAC's 256-vector FP4 and
posit(4,1) tables) share one harness run, each at its own rate (``split``), checked and
reported apart (``shared_run`` names both; the run's simulation time is split by items).
MIXFORGE_TB_PROFILE=<path> dumps a cProfile of that loop.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, RisingEdge

from mixforge.hw.verify.tb_pe_common import params
from mixforge.hw.verify.tb_pe_vectors import Suite, cross_check, iter_plans, layout_of

FILES = {"in": "mixforge_in.hex", "out": "mixforge_out.hex", "in_cyc": "mixforge_in_cyc.hex",
         "out_cyc": "mixforge_out_cyc.hex"}  # == mixforge.hw.pe.harness.HARNESS_FILES


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_HEX_VALUE = np.full(256, 255, np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_HEX_VALUE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def _write_hex(name: str, words: np.ndarray) -> None:
    """One fixed-width hex word per line (``$readmemh`` input), formatted by NumPy."""
    words = np.asarray(words, np.uint64)
    nd = max(1, (int(words.max(initial=0)).bit_length() + 3) // 4)
    shifts = np.arange(nd - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    buf = np.empty((len(words), nd + 1), np.uint8)
    buf[:, :nd] = _HEX_DIGITS[((words[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]
    buf[:, nd] = ord("\n")
    # A new file, not an overwrite: on ext4 (auto_da_alloc) truncating a file that holds data
    # flushes it on close, ~3.6 ms per write here (most of a 256-vector path's fixed cost),
    # while removing it first and writing a new one costs ~0.1 ms.
    Path(name).unlink(missing_ok=True)
    Path(name).write_bytes(buf.tobytes())


def _read_hex(name: str) -> np.ndarray:
    """Words of a ``$writememh`` file as uint64. Fixed-width lines of hex digits (Verilator)
    are decoded by NumPy; anything else (Icarus: ``//`` comments, ``@`` addresses, blank lines)
    by the general line parser."""
    raw = Path(name).read_bytes()
    width = raw.find(b"\n")
    if 0 < width <= 16 and len(raw) % (width + 1) == 0:
        rows = np.frombuffer(raw, np.uint8).reshape(-1, width + 1)
        digits = _HEX_VALUE[rows[:, :width]]
        if (rows[:, width] == ord("\n")).all() and (digits < 16).all():
            shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
            return np.bitwise_or.reduce(digits.astype(np.uint64) << shifts, axis=1)
    words = []
    for line in raw.decode().splitlines():
        line = line.split("//", 1)[0].strip()
        if line and not line.startswith("@"):
            words.extend(int(tok, 16) for tok in line.split())
    return np.asarray(words, np.uint64)


@dataclass
class Batch:
    """What one free-running batch produced."""

    outputs: np.ndarray
    in_cyc: np.ndarray
    out_cyc: np.ndarray
    cycles: int


class FastHarness:
    """Drives the harness wrapper: reset, then batches of (items, expected output count)."""

    def __init__(self, dut: Any, depth: int) -> None:
        self.dut = dut
        self.depth = depth
        self.cycles = 0

    async def reset(self) -> None:
        d = self.dut  # the harness generates its clock: no simulator round trip per edge
        for name in ("rst", "load", "start", "dump"):
            getattr(d, name).value = 1 if name == "rst" else 0
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        await RisingEdge(d.clk)

    async def run(self, items: np.ndarray, n_out: int, rate: tuple[int, int], seed: int,
                  latency: int, split: tuple[int, int, tuple[int, int]] | None = None
                  ) -> Batch:
        """One free-running batch at ``rate``; with ``split = (n_in, n_out, rate2)`` the
        inputs from index ``n_in`` on and the outputs from index ``n_out`` on run at
        ``rate2`` (two checks of different rates in one run)."""
        d = self.dut
        n = len(items)
        assert 0 < n <= self.depth and n_out <= self.depth
        _write_hex(FILES["in"], items)
        d.n_in.value = n
        d.n_out.value = n_out
        d.max_cycles.value = (20 + latency) * (n + n_out) + 200  # serial units stall
        d.seed.value = seed & 0xFFFFFFFF
        d.valid_thr.value, d.ready_thr.value = rate
        split_in, split_out, rate2 = split or (0xFFFFFFFF, 0xFFFFFFFF, rate)
        d.split_in.value, d.split_out.value = split_in, split_out
        d.valid_thr2.value, d.ready_thr2.value = rate2
        d.load.value = 1
        await RisingEdge(d.clk)  # $readmemh
        d.load.value = 0
        d.start.value = 1
        await RisingEdge(d.clk)
        d.start.value = 0
        await RisingEdge(d.clk)
        if not d.done.value:
            await RisingEdge(d.done)  # the one await of the batch: the simulator runs free
        cycles, sent, got = int(d.cycles.value), int(d.sent.value), int(d.got.value)
        assert not d.timeout.value, (f"timeout after {cycles} cycles: {sent}/{n} inputs "
                                     f"accepted, {got}/{n_out} outputs")
        assert sent == n, f"{got} outputs appeared after only {sent}/{n} inputs"
        await ClockCycles(d.clk, latency + 2)  # o.ready is low now: a surplus output waits
        assert not d.o_valid.value, f"an output beyond the expected {n_out} appeared"
        for key in ("out", "in_cyc", "out_cyc"):  # never read a previous batch's files
            Path(FILES[key]).unlink(missing_ok=True)
        d.dump.value = 1
        await RisingEdge(d.clk)  # $writememh
        d.dump.value = 0
        await RisingEdge(d.clk)
        self.cycles += cycles
        return Batch(_read_hex(FILES["out"]), _read_hex(FILES["in_cyc"]).astype(np.int64),
                     _read_hex(FILES["out_cyc"]).astype(np.int64), cycles)


def _batches(last: np.ndarray, depth: int) -> list[tuple[int, int]]:
    """Cut items into batches of at most ``depth`` that end with a sequence's last element."""
    ends = np.flatnonzero(last) + 1
    assert len(ends) and ends[-1] == len(last), "the final item must close a sequence"
    out, start = [], 0
    while start < len(last):
        i = int(np.searchsorted(ends, start + depth, side="right")) - 1
        end = int(ends[i])
        assert end > start, f"a sequence longer than the harness depth {depth}"
        out.append((start, end))
        start = end
    return out


def _full_rate_timing(p: dict[str, Any], last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected accept edges and output latencies at full rate: one input per cycle and
    ``latency`` per output, or the spec's own model (``full_rate_stamps``, e.g. a serial
    dequant unit that stalls the input) when it has one."""
    import dataclasses

    from mixforge.hw.pe.specs import SPEC_KINDS

    cls = SPEC_KINDS[p["kind"]]
    spec = cls(**{f.name: p[f.name] for f in dataclasses.fields(cls) if f.name in p})
    ends = np.flatnonzero(last)
    if not hasattr(spec, "full_rate_stamps"):
        return np.arange(len(last)), np.full(len(ends), p["latency"])
    ins, outs = (np.asarray(x, np.int64) for x in spec.full_rate_stamps(last.tolist()))
    return ins, outs - ins[ends]


#: Paths of at most this many items run two at a time in one harness run (their second at its
#: own rate from its first item: ``FastHarness.run(split=...)``), which halves the fixed cost
#: of a run (hex files, $readmemh/$writememh, the handshakes with the simulator) for them.
SMALL_SUITE = 1024


def _mergeable(a: Suite, b: Suite | None, depth: int) -> bool:
    """``b`` may share ``a``'s harness run: both small, ``b`` without full-rate timing checks
    (``a``'s run at full rate starts from an idle PE, ``b``'s would not)."""
    return (b is not None and len(a.items) <= SMALL_SUITE and len(b.items) <= SMALL_SUITE
            and not b.timing and len(a.items) + len(b.items) <= depth)


async def _run_suites(h: FastHarness, group: list[Suite], p: dict[str, Any], seeds: list[int]
                      ) -> list[dict[str, Any]]:
    """Cross-check, simulate and check one suite, or two small ones (:func:`_mergeable`) in one
    harness run; one record per suite, its outputs, mismatches and timing checks its own. The
    records' ``seconds`` / ``cpu_seconds`` are filled in by the caller (from the start of the
    suites' construction to the end of their check); ``sim_seconds`` of a shared run is split
    by the suites' item counts."""
    xrows, t_xs = [], []
    for s, seed in zip(group, seeds, strict=True):
        t0 = time.perf_counter()
        xrows.append(cross_check(s, np.random.default_rng(seed)))
        t_xs.append(time.perf_counter() - t0)
    expected = [s.expected.copy() for s in group]
    if p.get("corrupt_expected"):
        expected[0][0] ^= np.uint64(1)
    s0 = group[0]
    items = np.concatenate([s.items for s in group])
    lasts = np.concatenate([s.last for s in group])
    split = None
    if len(group) > 1:  # one batch (<= depth items): the second suite at its own rate
        split = (len(s0.items), len(s0.expected), group[1].rate)
    n0_out = len(s0.expected)
    got_all, timing_errors = [], []
    t_sim = time.perf_counter()
    out_base = 0
    batches = _batches(lasts, h.depth)
    assert split is None or len(batches) == 1, "a shared run must fit in one batch"
    for b, (lo, hi) in enumerate(batches):
        last = lasts[lo:hi]
        n_out = int(last.sum())
        res = await h.run(items[lo:hi], n_out, s0.rate, seeds[0] * 7919 + b, p["latency"],
                          split=split)
        assert len(res.outputs) == n_out, (len(res.outputs), n_out)
        got_all.append(res.outputs)
        if s0.timing:  # full rate: one item per cycle in, every output `latency` edges later
            hi0 = min(hi, len(s0.items))  # (a shared run: the first suite's items only)
            last0 = lasts[lo:hi0]
            k = int(last0.sum())
            acc = res.in_cyc[:hi0 - lo][np.flatnonzero(last0)]
            lat = res.out_cyc[:k] - acc
            want_in, want_lat = _full_rate_timing(p, last0)  # (unless the spec says otherwise)
            if not (res.in_cyc[:hi0 - lo] == want_in).all():
                timing_errors.append(f"batch {b}: inputs not accepted at the spec's edges")
            bad = np.flatnonzero(lat != want_lat)
            if len(bad):
                j = int(bad[0])
                timing_errors.append(f"output {out_base + j}: latency {int(lat[j])} != "
                                     f"declared {int(want_lat[j])} ({len(bad)} outputs)")
        out_base += n_out
    t_sim = time.perf_counter() - t_sim
    got = np.concatenate(got_all)
    recs = []
    total = len(items)
    for i, s in enumerate(group):
        lo = 0 if i == 0 else n0_out
        g = got[lo:lo + len(s.expected)]
        bad = np.flatnonzero(g != expected[i])
        first = [f"{s.describe(int(j))} -> got {int(g[j]):#x} expected {int(expected[i][j]):#x}"
                 for j in bad[:10]]
        rec = {"test": s.name, "vectors": s.products, "outputs": len(g), "mismatches": len(bad),
               "first_mismatches": first, "timing_errors": timing_errors if i == 0 else [],
               "sim_seconds": t_sim * len(s.items) / total,
               "model_seconds": s.build_s[0] + t_xs[i], "crosschecked": xrows[i],
               "xcheck": s.xcheck, "cycles": h.cycles, "rate": list(s.rate)}
        if len(group) > 1:
            rec["shared_run"] = [x.name for x in group]
        recs.append(rec)
    return recs


@cocotb.test()
async def all_paths_against_models(dut: Any) -> None:
    """Every suite of the PE kind: exhaustive/edge/random singles and accumulation sequences,
    with idle and back-pressure cycles; latency/throughput on the full-rate suites."""
    p = params()
    layout_of(p)  # imports Amaranth once, outside the per-suite timings
    h = FastHarness(dut, int(p.get("depth", 1 << 16)))
    await h.reset()
    failed = []
    out = os.environ.get("MIXFORGE_TB_RESULT")
    prof = os.environ.get("MIXFORGE_TB_PROFILE")  # a path: cProfile of the suites' loop
    if prof:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    # every record's wall / CPU time runs from the end of the previous suite (the start of this
    # one's construction: vector generation, the model) to the end of its check, so the
    # records add up to the whole loop
    t_prev, c_prev = time.perf_counter(), time.process_time()
    plans, i, pending = iter_plans(p), 0, None
    while True:
        suite = pending or next(plans, None)
        pending, carry = None, (0.0, 0.0)
        if suite is None:
            break
        group = [suite]
        if len(suite.items) <= SMALL_SUITE:  # a small path: may the next one share its run?
            t_peek, c_peek = time.perf_counter(), time.process_time()
            nxt = next(plans, None)
            if _mergeable(suite, nxt, h.depth):
                group.append(nxt)  # type: ignore[arg-type]
            else:  # its construction time belongs to its own record
                pending = nxt
                carry = (time.perf_counter() - t_peek, time.process_time() - c_peek)
        h.cycles = 0
        recs = await _run_suites(h, group, p, [int(p.get("seed", 6)) * 101 + i + j
                                               for j in range(len(group))])
        i += len(group)
        t_now, c_now = time.perf_counter(), time.process_time()
        wall, cpu = t_now - t_prev - carry[0], c_now - c_prev - carry[1]
        # a shared run: each suite its own construction and cross-check, the rest by items
        own = [r["model_seconds"] for r in recs]
        rest = max(wall - sum(own), 0.0)
        n_items = sum(len(s.items) for s in group)
        for s, rec, o in zip(group, recs, own, strict=True):
            rec["seconds"] = o + rest * len(s.items) / n_items
            rec["cpu_seconds"] = cpu * rec["seconds"] / wall if wall > 0 else 0.0
        t_prev, c_prev = t_now - carry[0], c_now - carry[1]
        for rec in recs:
            if out:
                with open(out, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            dut._log.info("%s: %d vectors, %d mismatches, %.2f s (%.0f vectors/s; %.0f per CPU "
                          "second)", rec["test"], rec["vectors"], rec["mismatches"],
                          rec["seconds"], rec["vectors"] / max(rec["seconds"], 1e-9),
                          rec["vectors"] / max(rec["cpu_seconds"], 1e-9))
            if rec["mismatches"] or rec["timing_errors"]:
                failed.append(f"{rec['test']}: {rec['mismatches']} mismatches "
                              f"{rec['first_mismatches'][:3]} {rec['timing_errors'][:3]}")
    if prof:
        profiler.disable()
        profiler.dump_stats(prof)
    assert not failed, "; ".join(failed)
