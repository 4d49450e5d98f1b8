"""cocotb testbench: DequantFirstPE (kind mul_dequant_first) and FP16MacPE (kind fp16_mac).

MIXFORGE_TB_PARAMS (JSON): kind, k, out, vectors, sequences, seed, latency.
"""

from __future__ import annotations

import cocotb
import numpy as np
from tb_pe_common import Checker, StreamTB, measure_latency, pack, params

from mixforge.models import pe as ref

FP16_EDGES = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x7C00,
              0xFC00, 0x7E00, 0x3555, 0x5640, 0x1400, 0x6000]


class Model:
    def __init__(self, p: dict) -> None:
        self.p, self.k = p, p["k"]
        self.dq = p["kind"] == "mul_dequant_first"

    def item(self, w: int, a: int, s: int, z: int, ts: int, last: int) -> int:
        if self.dq:  # s is the uint8 scale multiplier, ts the fp16 tensor scale
            return pack([(w, self.k), (a, 8), (s, 8), (z, 8), (ts, 16), (last, 1)])
        return pack([(w, self.k), (a, 16), (s, 16), (z, 8), (last, 1)])

    def expect(self, w, a, s, z, ts) -> int:  # type: ignore[no-untyped-def]
        if self.dq:
            return ref.dequant_first_pe(w, a, s, z, ts, k=self.k, out=self.p["out"])
        return ref.fp16_mac_pe(w, a, s, z, k=self.k, out=self.p["out"])

    def random(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        w = rng.integers(0, 1 << self.k, n)
        if self.dq:
            return (w, rng.integers(0, 256, n), rng.integers(0, 256, n),
                    rng.integers(0, 256, n), rng.integers(0, 0x7C00, n) | (
                        rng.integers(0, 2, n) << 15))
        a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
        s = rng.integers(0, 0x6000, n) | (rng.integers(0, 2, n) << 15)
        return w, a, s, rng.integers(0, 256, n), np.zeros(n, np.int64)


async def _singles(dut, cols: tuple[np.ndarray, ...], name: str) -> None:  # type: ignore[no-untyped-def]
    mdl = Model(params())
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker(name)
    rows = [tuple(int(c[i]) for c in cols) for i in range(len(cols[0]))]
    items = [mdl.item(*r, 1) for r in rows]
    exp = [mdl.expect([r[0]], [r[1]], [r[2]], [r[3]], [r[4]]) for r in rows]
    got = await tb.run(items, len(items))
    chk.compare(got, exp, lambda j: "w={:#x} a={:#x} s={:#x} z={:#x} ts={:#x}".format(*rows[j]))
    chk.finish(dut._log, sim_seconds=tb.sim_seconds)


@cocotb.test()
async def products(dut):  # type: ignore[no-untyped-def]
    """int8: every (w, a) pair (unit scale); fp16: edge table x weights; then seeded random."""
    p = params()
    mdl = Model(p)
    rng = np.random.default_rng(p.get("seed", 1))
    k = p["k"]
    if mdl.dq:
        w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << k), np.arange(256),
                                                indexing="ij"))
        one = np.ones(len(w), np.int64)
        cols = (w, a, one, 0 * one, 0x3C00 * one)
    else:
        w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, indexing="ij"))
        one = np.ones(len(w), np.int64)
        cols = (w, a, 0x3C00 * one, 0 * one, 0 * one)
    rnd = mdl.random(rng, int(p.get("vectors", 20_000)))
    await _singles(dut, tuple(np.concatenate([c, r]) for c, r in zip(cols, rnd, strict=True)),
                   "products")


@cocotb.test()
async def sequences_with_backpressure(dut):  # type: ignore[no-untyped-def]
    p = params()
    mdl = Model(p)
    rng = np.random.default_rng(p.get("seed", 1) + 5)
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker("sequences_backpressure")
    items, exp, desc = [], [], []
    products = 0
    for q in range(int(p.get("sequences", 30))):
        n = int(rng.choice([1, 2, 128, int(rng.integers(1, 1025))]))
        w, a, s, z, ts = mdl.random(rng, n)
        for j in range(n):
            items.append(mdl.item(int(w[j]), int(a[j]), int(s[j]), int(z[j]), int(ts[j]),
                                  int(j == n - 1)))
        exp.append(mdl.expect(w, a, s, z, ts))
        desc.append(f"sequence {q} (n={n}, w0={int(w[0]):#x} a0={int(a[0]):#x})")
        products += n
    got = await tb.run(items, len(exp), rng=rng)
    chk.compare(got, exp, lambda j: desc[j])
    chk.finish(dut._log, checked_products=products, sim_seconds=tb.sim_seconds)


@cocotb.test()
async def latency_matches_property(dut):  # type: ignore[no-untyped-def]
    p = params()
    mdl = Model(p)
    tb = StreamTB(dut)
    await tb.reset()
    seen = await measure_latency(tb, mdl.item(1, 3, 1, 0, 0x3C00, 1))
    assert seen == p["latency"], f"latency {seen} != declared {p['latency']}"
