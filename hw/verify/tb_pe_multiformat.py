"""cocotb testbench: MultiFormatMAC / SharedQuireMAC against models.pe.multiformat_mac,
SeparateMacsMAC against models.pe.separate_macs_mac (its accumulation sequences keep one mode and
the mode switches between sequences; every sixth sequence mixes modes to check the documented
read-out of the last element's MAC).

MIXFORGE_TB_PARAMS (JSON): kind, out, vectors (posit16 random count), sequences, seed, latency.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np

from mixforge.hw.verify.tb_pe_common import Checker, StreamTB, measure_latency, pack, params
from mixforge.hw.verify.tb_pe_vectors import mixed_mode_sequence
from mixforge.models import pe as ref

P16_EDGES = [0x0000, 0x8000, 0x0001, 0xFFFF, 0x7FFF, 0x8001, 0x4000, 0xC000, 0x3FFF, 0x4001,
             0x0002, 0x7FFE, 0x2000, 0x6000, 0x1234, 0x5555, 0xAAAA, 0x7000, 0x0100, 0x00FF]


def _model(p: dict) -> Any:
    """The reference function of the PE kind under test."""
    return ref.separate_macs_mac if p.get("kind") == "separate_macs" else ref.multiformat_mac


def _item(a: int, b: int, mode: int, last: int) -> int:
    return pack([(a, 16), (b, 16), (mode, 2), (last, 1)])


def _lane_words(pairs: np.ndarray, lanes: int, lw: int, n_pairs: int) -> tuple[list, list]:
    """Vector i puts pair (i + 37 j) mod n_pairs in lane j: every pair visits every lane."""
    a_words, b_words = [], []
    for i in pairs:
        a = b = 0
        for j in range(lanes):
            p = (int(i) + 37 * j * (1 + 333 * (lw == 8))) % n_pairs
            a |= (p & ((1 << lw) - 1)) << (j * lw)
            b |= ((p >> lw) & ((1 << lw) - 1)) << (j * lw)
        a_words.append(a)
        b_words.append(b)
    return a_words, b_words


async def _singles(dut, mode: int, a_words, b_words, name: str) -> None:  # type: ignore[no-untyped-def]
    p = params()
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker(name)
    mname = ref.MODES[mode]
    items = [_item(a, b, mode, 1) for a, b in zip(a_words, b_words, strict=True)]
    exp = [_model(p)(mname, [a], [b], out=p["out"])
           for a, b in zip(a_words, b_words, strict=True)]
    got = await tb.run(items, len(items))
    chk.compare(got, exp, lambda j: f"mode={mname} a={a_words[j]:#x} b={b_words[j]:#x}")
    chk.finish(dut._log, sim_seconds=tb.sim_seconds)


@cocotb.parametrize(mode=[0, 1, 2])
async def exhaustive_small_modes(dut, mode: int) -> None:  # type: ignore[no-untyped-def]
    """Every operand pair of FP4, posit(4,1), posit(8,0) in every lane."""
    _, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
    n_pairs = 1 << (2 * lw)
    a_w, b_w = _lane_words(np.arange(n_pairs), lanes, lw, n_pairs)
    await _singles(dut, mode, a_w, b_w, f"exhaustive_{ref.MODES[mode]}")


@cocotb.test()
async def posit16_edges_and_random(dut):  # type: ignore[no-untyped-def]
    p = params()
    rng = np.random.default_rng(p.get("seed", 1))
    ea, eb = (x.ravel() for x in np.meshgrid(P16_EDGES, P16_EDGES, indexing="ij"))
    n = int(p.get("vectors", 100_000))
    a = [int(x) for x in np.concatenate([ea, rng.integers(0, 1 << 16, n)])]
    b = [int(x) for x in np.concatenate([eb, rng.integers(0, 1 << 16, n)])]
    await _singles(dut, 3, a, b, "posit16_edges_random")


@cocotb.test()
async def mixed_mode_sequences_backpressure(dut):  # type: ignore[no-untyped-def]
    """Sequences (1..1024) whose mode switches between and within accumulations (separate
    MACs: mostly between accumulations only)."""
    p = params()
    rng = np.random.default_rng(p.get("seed", 1) + 3)
    tb = StreamTB(dut)
    await tb.reset()
    chk = Checker("mixed_mode_sequences")
    items, exp, desc = [], [], []
    products = 0
    for q in range(int(p.get("sequences", 40))):
        # one mode per accumulation (separate MACs: all but every sixth sequence, whose mixed
        # modes check the documented semantics: the last element's MAC is read out)
        a, b, modes, d = mixed_mode_sequence(q, rng, separate=p["kind"] == "separate_macs",
                                             single_mode=lambda q: int(rng.integers(0, 4)))
        n = len(a)
        for j in range(n):
            items.append(_item(a[j], b[j], modes[j], int(j == n - 1)))
        exp.append(_model(p)([ref.MODES[x] for x in modes], a, b, out=p["out"]))
        desc.append(d)
        products += n
    got = await tb.run(items, len(exp), rng=rng)
    chk.compare(got, exp, lambda j: desc[j])
    chk.finish(dut._log, checked_products=products, sim_seconds=tb.sim_seconds)


@cocotb.test()
async def latency_matches_property(dut):  # type: ignore[no-untyped-def]
    p = params()
    tb = StreamTB(dut)
    await tb.reset()
    seen = await measure_latency(tb, _item(0x4000, 0x4000, 3, 1))
    assert seen == p["latency"], f"latency {seen} != declared {p['latency']}"
    items = [_item(0x4000, 0x4000, j % 4, int(j == 63)) for j in range(64)]
    start = tb.cycles
    await tb.run(items, 1)
    assert tb.cycles - start == 64 + p["latency"] - 1, tb.cycles - start


@cocotb.test()
async def unused_lanes_hold_still(dut):  # type: ignore[no-untyped-def]
    """posit16 traffic: the registers of lanes that mode does not use never change."""
    p = params()
    gated = [1, 2, 3] if p["kind"] == "multiformat" else list(range(10))  # 10: posit16
    names = [f"{pre}{j}_{suf}" for j in gated for pre, suf in (("l", "ma"), ("l", "mb"),
                                                                ("p", "m"), ("l", "ea"))]
    handles = [getattr(dut.core, n) for n in names]  # the datapath submodule
    tb = StreamTB(dut)
    await tb.reset()
    await tb.run([_item(0x1234, 0x4321, 0, 1)] * 4, 4)  # FP4 traffic loads every 4-lane
    # compare the bit strings: on Icarus a register no mode has written yet reads as X
    before = [str(h.value) for h in handles]
    rng = np.random.default_rng(5)
    items = [_item(int(x), int(y), 3, int(i % 7 == 6)) for i, (x, y) in
             enumerate(rng.integers(0, 1 << 16, (500, 2)))]
    await tb.run(items, 500 // 7, rng=rng)
    after = [str(h.value) for h in handles]
    moved = [n for n, x, y in zip(names, before, after, strict=True) if x != y]
    assert not moved, f"gated registers changed in posit16 mode: {moved}"
