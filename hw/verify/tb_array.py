"""cocotb testbench of ``PEArray``: tiled GEMMs bit-exact against the models/ reference, with the
cycle of every fold's first input and last output recorded.

Environment: ``MIXFORGE_TB_PARAMS`` (JSON): ``config`` (ArrayConfig fields), ``shapes``
([[M, K, N], ...]), ``group_size`` (int or null), ``seed``, ``stall`` (probability that the
driver withholds a beat; 0 for timing runs), ``nar`` (inject posit NaR operands), ``out`` (path
of the result JSON: measured timing per GEMM and per fold), ``special`` (fraction of Inf/NaN
scales for float-output arrays).

Float-output arrays (``dequant``, ``dequant_first``) get random group scales / zero points
(``reference.random_quant``) and are checked pattern for pattern against ``models.pe``. Their
folds without output rows (a tile's earlier groups) log no ``last_output`` (-1).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from mixforge.hw.array.config import ArrayConfig
from mixforge.hw.array.reference import (
    _fp16_patterns,
    random_multiformat,
    random_quant,
    reference_outputs,
)
from mixforge.hw.array.tiling import Fold, plan_gemm, unpack_output
from mixforge.hw.verify.worst_case import array_worst_operands
from mixforge.models.pe import MODE_LANES, MODES

NAR_MARK = -(1 << 62)


@dataclass
class FoldLog:
    load_start: int = -1
    stream_start: int = -1
    last_output: int = -1
    rows: int = 0


@dataclass
class GemmLog:
    folds: list[FoldLog] = field(default_factory=list)


class ArrayTB:
    """Owns clock/reset, drives the input streams from a fold plan, monitors ``o``."""

    def __init__(self, dut, cfg: ArrayConfig, rng: np.random.Generator, stall: float):
        self.dut, self.cfg, self.rng, self.stall = dut, cfg, rng, stall
        self.ws = cfg.dataflow == "ws"

    async def reset(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self._idle()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 2)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def _idle(self) -> None:
        if self.ws:
            self.dut.w__valid.value = 0
            self.dut.a__valid.value = 0
        else:
            self.dut.x__valid.value = 0

    async def run(self, folds: list[Fold], sums: dict, nars: dict) -> GemmLog:
        """Drive ``folds``; add each output row into ``sums[(group, m, n)]``."""
        dut, cfg = self.dut, self.cfg
        log = GemmLog([FoldLog() for _ in folds])
        w_q = [(fi, b) for fi, f in enumerate(folds) for b in f.w_beats]
        x_q = [(fi, b) for fi, f in enumerate(folds) for b in f.x_beats]
        wi = xi = 0
        out_folds = [fi for fi, f in enumerate(folds) if f.out_rows]
        po, out_row = 0, 0
        t0: int | None = None
        t = 0
        x_valid, x_ready = (dut.a__valid, dut.a__ready) if self.ws else (dut.x__valid,
                                                                          dut.x__ready)
        x_payload = dut.a__payload if self.ws else dut.x__payload
        budget = 50 * (len(w_q) + len(x_q)) + 1000
        while po < len(out_folds):
            w_on = self.ws and wi < len(w_q) and self.rng.random() >= self.stall
            x_on = xi < len(x_q) and self.rng.random() >= self.stall
            if self.ws:
                dut.w__valid.value = int(w_on)
                if w_on:
                    dut.w__payload.value = w_q[wi][1]
            x_valid.value = int(x_on)
            if x_on:
                x_payload.value = x_q[xi][1]
            await ReadOnly()
            w_fire = w_on and int(dut.w__ready.value)
            x_fire = x_on and int(x_ready.value)
            if (w_fire or x_fire) and t0 is None:
                t0 = t
            rel = t - (t0 if t0 is not None else t)
            if w_fire:
                fl = log.folds[w_q[wi][0]]
                fl.load_start = rel if fl.load_start < 0 else fl.load_start
            if x_fire:
                fl = log.folds[x_q[xi][0]]
                fl.stream_start = rel if fl.stream_start < 0 else fl.stream_start
                if not self.ws and fl.load_start < 0:
                    fl.load_start = rel
            if int(dut.o__valid.value):
                assert po < len(out_folds), "output beyond the last fold"
                out_fold = out_folds[po]
                vals, last, nar = unpack_output(cfg, int(dut.o__payload.value))
                f = folds[out_fold]
                mrow = f.out_rows[out_row]
                if mrow is not None:
                    for j, v in enumerate(vals):
                        key = (f.group, mrow, f.n0 + j)
                        # WS integer arrays add K-fold partial sums; float outputs are final
                        sums[key] = (sums.get(key, 0) + v if self.ws and not cfg.float_out
                                     else v)
                        nars[key] = nars.get(key, False) or nar[j]
                out_row += 1
                expect_last = out_row == len(f.out_rows)
                assert last == expect_last, (f"fold {out_fold}: last={last} on output row "
                                             f"{out_row - 1} of {len(f.out_rows)}")
                if expect_last:
                    log.folds[out_fold].last_output = rel
                    log.folds[out_fold].rows = out_row
                    po, out_row = po + 1, 0
            await RisingEdge(dut.clk)
            wi += int(bool(w_fire))
            xi += int(bool(x_fire))
            t += 1
            assert t < budget, f"timeout: {po}/{len(out_folds)} folds done after {t} cycles"
        self._idle()
        await ClockCycles(dut.clk, 3)
        return log


def _operands(cfg: ArrayConfig, rng: np.random.Generator, m: int, k: int, n: int,
              nar: bool) -> tuple[np.ndarray, np.ndarray]:
    if cfg.pe == "fp16_mac":  # FP16 activations, mostly of moderate magnitude, some Inf/NaN
        a = _fp16_patterns(rng, (m, k), 0.02 if nar else 0.0)
        a = np.where((rng.random((m, k)) < 0.8) & ((a >> 10) & 0x1F != 0x1F),
                     (a & 0x83FF) | (rng.integers(6, 22, (m, k)) << 10), a)
        return a, rng.integers(0, 1 << cfg.w_bits, (k, n))
    if cfg.act == "fp16":  # shift_add W(k)A16: every exponent (subnormals), +-0, Inf/NaN
        a = _fp16_patterns(rng, (m, k), 0.02 if nar else 0.0)
        a = np.where(rng.random((m, k)) < 0.1, a & 0x8000, a)
        return a, rng.integers(0, 1 << cfg.w_bits, (k, n))
    if cfg.pe != "posit8":
        return (rng.integers(0, 1 << cfg.a_bits, (m, k)), rng.integers(0, 1 << cfg.w_bits, (k, n)))
    out = []
    for shape in ((m, k), (k, n)):
        # mostly |x| < 1 so sums stay inside the posit range and exercise the rounding
        small = rng.integers(-0x3F, 0x40, shape) & 0xFF
        full = rng.integers(0, 256, shape)
        x = np.where(rng.random(shape) < 0.75, small, full)
        x = np.where(x == 0x80, 0, x)
        if nar:
            x = np.where(rng.random(shape) < 0.02, 0x80, x)
        out.append(x.astype(np.int64))
    return out[0], out[1]


@cocotb.test()
async def gemm_shapes(dut):
    """Every shape: bit-exact result, and the measured per-fold timing written to JSON."""
    p = json.loads(os.environ["MIXFORGE_TB_PARAMS"])
    cfg = ArrayConfig(**p["config"])
    rng = np.random.default_rng(p.get("seed", 0))
    tb = ArrayTB(dut, cfg, rng, float(p.get("stall", 0.0)))
    await tb.reset()
    results, bad = [], []
    modes = p.get("modes") or list(MODES)  # multiformat: run-time mode per GEMM, cycled
    for si, shape in enumerate(p["shapes"]):
        m, k, n = shape
        g = p.get("group_size")
        mode = modes[si % len(modes)] if cfg.mode_words else None
        if mode is not None:
            sp = 0.02 if p.get("nar") else 0.0
            a = random_multiformat(rng, mode, (m, k), special=sp)
            w = random_multiformat(rng, mode, (k, n), special=sp)
        else:
            a, w = _operands(cfg, rng, m, k, n, bool(p.get("nar", False)))
        if p.get("worst"):  # largest-magnitude operands (hw/verify/worst_case.py)
            a, w = array_worst_operands(cfg, mode, m, k, n)
        q = (random_quant(cfg, rng, k, n, special=float(p.get("special", 0.0)))
             if cfg.float_out and mode is None else None)
        sums: dict = {}
        nars: dict = {}
        log = await tb.run(plan_gemm(cfg, a, w, g, q, mode=mode), sums, nars)
        ref = reference_outputs(cfg, a, w, g, q, mode=mode)
        got = np.zeros_like(ref)
        for (gi, mi, ni), v in sums.items():
            if ni >= n:
                continue  # zero-padded edge column
            got[gi, mi, ni] = NAR_MARK if (nars[(gi, mi, ni)] and cfg.has_nar) else v
        diff = np.argwhere(got != ref)
        if len(diff):
            gi, mi, ni = (int(x) for x in diff[0])
            bad.append(f"GEMM {m}x{k}x{n}{' ' + mode if mode else ''}: {len(diff)} "
                       f"mismatches; first group {gi} C[{mi},{ni}]"
                       f" got {int(got[gi, mi, ni]):#x} expected {int(ref[gi, mi, ni]):#x}")
        results.append({
            "M": m, "K": k, "N": n, "group_size": g, "mismatches": int(len(diff)),
            "mode": mode, "lanes": MODE_LANES[mode][1] if mode else 1,
            "outputs": int(ref.size),
            "gemm_cycles": log.folds[-1].last_output - log.folds[0].load_start,
            "folds": [{"load_start": f.load_start, "stream_start": f.stream_start,
                       "last_output": f.last_output, "rows": f.rows} for f in log.folds]})
    if p.get("out"):
        with open(p["out"], "w") as fh:
            json.dump({"config": p["config"], "stall": p.get("stall", 0.0), "gemms": results},
                      fh, indent=1)
    assert not bad, "; ".join(bad)
    dut._log.info("checked %d GEMMs", len(results))


@cocotb.test(skip=not json.loads(os.environ.get("MIXFORGE_TB_PARAMS", "{}")).get("exhaustive"))
async def posit8_all_products(dut):
    """OS posit8 with K = 1: every output is one product rounded once; all 65,536 pairs."""
    from mixforge.models import mul

    p = json.loads(os.environ["MIXFORGE_TB_PARAMS"])
    cfg = ArrayConfig(**p["config"])
    assert cfg.pe == "posit8" and cfg.dataflow == "os"
    tb = ArrayTB(dut, cfg, np.random.default_rng(0), 0.0)
    await tb.reset()
    pats = np.arange(256, dtype=np.int64)
    a = np.repeat(pats, 1)[:, None]           # M = 256 activations, K = 1
    w = pats[None, :]                          # N = 256 weights
    sums: dict = {}
    await tb.run(plan_gemm(cfg, a, w), sums, {})
    ref = mul("posit8_es0", np.repeat(pats, 256).astype(np.uint8),
              np.tile(pats, 256).astype(np.uint8)).reshape(256, 256)
    bad = [(i, j) for i in range(256) for j in range(256) if sums[(0, i, j)] != int(ref[i, j])]
    if bad:
        i, j = bad[0]
        raise AssertionError(f"{len(bad)} mismatches; first a={i:#04x} b={j:#04x} -> got "
                             f"{sums[(0, i, j)]:#04x} expected {int(ref[i, j]):#04x}")
