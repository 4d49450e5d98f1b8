"""The combinational builders of hw/pe/arith.py against models/pe.py (Amaranth simulator)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from mixforge.hw.pe import arith
from mixforge.models import pe as ref


def _run(m: Module, body) -> None:  # type: ignore[no-untyped-def]
    sim = Simulator(m)

    async def bench(ctx):  # type: ignore[no-untyped-def]
        await body(ctx)

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("fmt,lsb,width", [("float32", -24, 70), ("float16", -48, 90),
                                           ("posit16_es1", -56, 128), ("float32", -56, 128),
                                           ("float16", -56, 128)])
def test_round_fixed_builder(fmt: str, lsb: int, width: int) -> None:
    m = Module()
    x = Signal(signed(width))
    nan = Signal()
    if fmt.startswith("posit"):
        out = arith.round_to_posit(m, x, lsb=lsb, n=16, es=1, nan=nan)
    else:
        out = arith.round_to_float(m, x, lsb=lsb, fmt=fmt, nan=nan)
    rng = np.random.default_rng(width)
    vals = [0, 1, -1, (1 << (width - 1)) - 1, -(1 << (width - 1)), 3 << 20, -(5 << 40)]
    for _ in range(400):
        bl = int(rng.integers(1, width))
        v = int.from_bytes(rng.bytes(16), "little") >> (128 - bl)
        vals.append(-v if rng.integers(2) else v)

    async def body(ctx):  # type: ignore[no-untyped-def]
        for v in vals:
            ctx.set(x, v)
            got = ctx.get(out)
            exp = ref.round_fixed(fmt, v, lsb)
            assert got == exp, f"x={v:#x} -> got {got:#x} expected {exp:#x}"
        ctx.set(nan, 1)
        assert ctx.get(out) == ref.nan_bits(fmt)

    _run(m, body)


@pytest.mark.parametrize("fmt,n,es", [("posit8_es0", 8, 0), ("posit4_es1", 4, 1),
                                      ("posit16_es1", 16, 1), ("float4_e2m1fn", 4, 0)])
def test_decode_builders(fmt: str, n: int, es: int) -> None:
    m = Module()
    bits = Signal(n)
    u = arith.decode_fp4(bits) if fmt.startswith("float") else arith.decode_posit(
        m, bits, n=n, es=es)
    pats = range(1 << n) if n <= 8 else range(0, 1 << 16, 37)

    async def body(ctx):  # type: ignore[no-untyped-def]
        for p in list(pats) + [0x8000 if n == 16 else 0]:
            ctx.set(bits, p)
            sig, exp, special = ref.decode_value(fmt, p)
            got_sig = ctx.get(u.sig) * (-1 if ctx.get(u.sign) else 1)
            if special:
                assert ctx.get(u.nar) == 1, hex(p)
                continue
            assert ctx.get(u.nar) == 0
            assert got_sig * 2.0 ** ctx.get(u.exp) == sig * 2.0 ** exp, hex(p)

    _run(m, body)


@pytest.mark.parametrize("lsb,width", [(-56, 128), (-2, 26), (-8, 34), (-12, 41)])
def test_round_to_posit_lean_builder(lsb: int, width: int) -> None:
    """Same function as round_to_posit / models.pe.round_fixed (ties, sticky far below)."""
    m = Module()
    x = Signal(signed(width))
    nan = Signal()
    out = arith.round_to_posit_lean(m, x, lsb=lsb, n=16, es=1, nan=nan)
    rng = np.random.default_rng(width + 1)
    top = (1 << (width - 1)) - 1
    vals = [0, 1, -1, 2, 3, -3, 5, top, -top - 1, 1 << (width - 2), (1 << (width - 2)) + 1]
    for _ in range(500):
        bl = int(rng.integers(1, width))
        v = int.from_bytes(rng.bytes(16), "little") >> (128 - bl)
        if rng.integers(3) == 0:  # trailing zeros: exact ties and exact values
            v &= ~((1 << int(rng.integers(0, bl))) - 1)
        if rng.integers(3) == 0:  # one far-below bit: only the sticky prefix OR sees it
            v |= 1 << int(rng.integers(0, max(bl - 20, 1)))
        vals.append(min(-v if rng.integers(2) else v, top))

    async def body(ctx):  # type: ignore[no-untyped-def]
        for v in vals:
            ctx.set(x, v)
            got, exp = ctx.get(out), ref.round_fixed("posit16_es1", v, lsb)
            assert got == exp, f"x={v:#x} -> got {got:#x} expected {exp:#x}"
        ctx.set(nan, 1)
        assert ctx.get(out) == 0x8000

    _run(m, body)


@pytest.mark.parametrize("n,fb", [(16, 12), (8, 5)])
def test_decode_posit_es01_builder(n: int, fb: int) -> None:
    """One decoder for posit(n, 1), posit(n, 0) and shorter posits left-aligned in n bits."""
    m = Module()
    bits, es = Signal(n), Signal()
    u = arith.decode_posit_es01(m, bits, es=es, frac_bits=fb)
    cases = [(n, 1, p) for p in range(0, 1 << n, 1 if n <= 8 else 37)]
    cases += [(8, 0, p) for p in range(256)] + [(4, 1, p) for p in range(16)]

    async def body(ctx):  # type: ignore[no-untyped-def]
        for nn, e, p in cases:
            if nn == n and e == 0 and fb < n - 3:
                continue  # fraction wider than frac_bits: not a supported use
            ctx.set(bits, p << (n - nn))
            ctx.set(es, e)
            sig, exp, special = ref.decode_value(f"posit{nn}_es{e}", p)
            assert ctx.get(u.nar) == int(special == 1), hex(p)
            if special:
                continue
            got = ctx.get(u.sig) * (-1 if ctx.get(u.sign) else 1)
            assert got * 2.0 ** ctx.get(u.exp) == sig * 2.0 ** exp, (nn, e, hex(p))

    _run(m, body)


@pytest.mark.parametrize("k,signed_w", [(4, True), (8, True), (11, False)])
def test_shift_add_product_builder(k: int, signed_w: bool) -> None:
    m = Module()
    w, a = Signal(k), Signal(signed(9))
    prod = Signal(signed(k + 10))
    m.d.comb += prod.eq(arith.shift_add_product(w, a, w_signed=signed_w))
    rng = np.random.default_rng(k)

    async def body(ctx):  # type: ignore[no-untyped-def]
        for _ in range(300):
            wv, av = int(rng.integers(0, 1 << k)), int(rng.integers(-256, 256))
            ctx.set(w, wv)
            ctx.set(a, av)
            ws = wv - (1 << k) if signed_w and wv >> (k - 1) else wv
            assert ctx.get(prod) == ws * av, f"w={wv:#x} a={av & 0x1ff:#x}"

    _run(m, body)
