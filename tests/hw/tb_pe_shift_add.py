"""cocotb testbench: ShiftAddPE against mixforge.models.pe.shift_add_pe.

MIXFORGE_TB_PARAMS (JSON): k, act, group, out, ternary, vectors (random count), seed, latency.
"""

from __future__ import annotations

import cocotb
import numpy as np
from tb_pe_common import Checker, StreamTB, measure_latency, pack, params

from mixforge.models import pe as ref

FP16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00,
              0x3BFF, 0x3C01, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x5640,
              0x0200, 0x3555, 0xC000, 0x4000, 0x7800]


class ShiftAddModel:
    """The models/ adapter: packs payloads and computes expected outputs per sequence."""

    def __init__(self, p: dict) -> None:
        self.p = p
        self.k, self.act = p["k"], p["act"]
        self.aw = 8 if self.act == "int8" else 16

    def item(self, w: int, a: int, s: int, z: int, last: int) -> int:
        return pack([(w, self.k), (a, self.aw), (s, 16), (z, 8), (last, 1)])

    def expect(self, w, a, s, z) -> int:  # type: ignore[no-untyped-def]
        return ref.shift_add_pe(w, a, s, z, k=self.k, act=self.act, group=self.p["group"],
                                out=self.p["out"], ternary=self.p["ternary"])

    def singles_expected(self, w: np.ndarray, a: np.ndarray) -> list[int]:
        """Expected outputs of one-element sequences with scale 1.0, zero 0 (the product)."""
        prod = ref.shift_add_mul(np.where((a >> 10) & 0x1F == 0x1F, 0, w) if self.act == "fp16"
                                 else w, np.where((a >> 10) & 0x1F == 0x1F, 0, a)
                                 if self.act == "fp16" else a, k=self.k, act=self.act,
                                 ternary=self.p["ternary"])
        lsb = 0 if self.act == "int8" else ref.FP16_LSB
        nan = ((a >> 10) & 0x1F == 0x1F) if self.act == "fp16" else np.zeros(len(a), bool)
        return [ref.round_fixed(self.p["out"], int(x), lsb, nan=bool(b))
                for x, b in zip(prod, nan, strict=True)]


async def _singles(dut, w: np.ndarray, a: np.ndarray, name: str) -> None:  # type: ignore[no-untyped-def]
    p = params()
    mdl = ShiftAddModel(p)
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker(name)
    items = [mdl.item(int(x), int(y), 0x3C00, 0, 1) for x, y in zip(w, a, strict=True)]
    got = await tb.run(items, len(items))
    chk.compare(got, mdl.singles_expected(w, a),
                lambda j: f"w={int(w[j]):#x} a={int(a[j]):#x}")
    chk.finish(dut._log, sim_seconds=tb.sim_seconds)


@cocotb.test()
async def products_exhaustive_or_random(dut):  # type: ignore[no-untyped-def]
    """int8: every (w, a) pair. fp16: edge table x every weight, then seeded random."""
    p = params()
    k = p["k"]
    if p["act"] == "int8":
        w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << k), np.arange(256),
                                                indexing="ij"))
        await _singles(dut, w, a, "products_exhaustive")
        return
    rng = np.random.default_rng(p.get("seed", 1))
    ew, ea = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, indexing="ij"))
    n = int(p.get("vectors", 100_000))
    w = np.concatenate([ew, rng.integers(0, 1 << k, n)])
    a = np.concatenate([ea, rng.integers(0, 1 << 16, n)])
    await _singles(dut, w, a, "products_fp16_edges_random")


@cocotb.test()
async def sequences_with_backpressure(dut):  # type: ignore[no-untyped-def]
    """Random accumulation sequences (1..1024), scales/zero points, random valid/ready."""
    p = params()
    mdl = ShiftAddModel(p)
    rng = np.random.default_rng(p.get("seed", 1) + 7)
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker("sequences_backpressure")
    items: list[int] = []
    exp: list[int] = []
    desc: list[str] = []
    nseq = int(p.get("sequences", 40))
    g = p["group"]
    products = 0
    for q in range(nseq):
        n = int(rng.choice([1, 2, g - 1, g, g + 1, 2 * g, int(rng.integers(1, 1025))]))
        n = max(1, min(n, 1024))
        w = rng.integers(0, 1 << p["k"], n)
        if p["act"] == "int8":
            a = rng.integers(0, 256, n)
        else:  # mostly finite, magnitudes spread over the whole exponent range
            a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
        if q % 5 == 1:  # cancellation: the second half repeats the first with negated weights
            h = n // 2
            w[h:2 * h] = (-ref.decode_weight(w[:h], k=p["k"], ternary=p["ternary"])) % (1 << p["k"])
            a[h:2 * h] = a[:h]
        big = q % 7 == 3  # large scales: the output format saturates / overflows
        s = (rng.integers(0x7000 if big else 0x0000, 0x7C00, n) | (rng.integers(0, 2, n) << 15))
        z = rng.integers(0, 256, n) if q % 2 else np.zeros(n, np.int64)
        for j in range(n):
            items.append(mdl.item(int(w[j]), int(a[j]), int(s[j]), int(z[j]), int(j == n - 1)))
        exp.append(mdl.expect(w, a, s, z))
        desc.append(f"sequence {q} (n={n}, w0={int(w[0]):#x} a0={int(a[0]):#x} "
                    f"s0={int(s[0]):#x} z0={int(z[0]):#x})")
        products += n
    got = await tb.run(items, len(exp), rng=rng)
    chk.compare(got, exp, lambda j: desc[j])
    chk.finish(dut._log, checked_products=products, sim_seconds=tb.sim_seconds)


@cocotb.test()
async def latency_matches_property(dut):  # type: ignore[no-untyped-def]
    p = params()
    mdl = ShiftAddModel(p)
    tb = StreamTB(dut)
    await tb.reset()
    seen = await measure_latency(tb, mdl.item(1, 0x3C00 if p["act"] == "fp16" else 3,
                                              0x3C00, 0, 1))
    assert seen == p["latency"], f"latency {seen} != declared {p['latency']}"
    # throughput: N back-to-back products are accepted in N cycles (ready never drops)
    items = [mdl.item(1, 1, 0x3C00, 0, int(j == 63)) for j in range(64)]
    start = tb.cycles
    await tb.run(items, 1)
    assert tb.cycles - start == 64 + p["latency"] - 1, tb.cycles - start
