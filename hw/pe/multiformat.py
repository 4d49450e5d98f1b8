"""MultiFormatMAC (XR-NPE style) and its separate-units baseline: one 16-bit SIMD MAC datapath.

Run-time ``mode`` per element (:class:`Mode`): 4 x FP4 (E2M1), 4 x posit(4,1), 2 x posit(8,0),
1 x posit(16,1). Lane products are exact and accumulate into a 128-bit quire (LSB 2**-56);
``last`` rounds the quire once into ``out`` (posit16_es1, float16 or float32). Function:
``mixforge.models.pe.multiformat_mac``.

Shared (``MultiFormatMAC``): four physical lanes serve every mode (lane 0: all formats, lane 1:
FP4/posit4/posit8, lanes 2-3: FP4/posit4); one 13x13 partial-product array is split by
mode-dependent row masks into 1, 2 or 4 independent products (no cross terms), so one
multiplier and one exponent adder per lane serve all formats. Lanes a mode does not use are
gated: their pipeline registers keep their value. Separate units (``SeparateUnitsMAC``): every
format has its own lanes (decode, ``*`` multiplier, aligner), and the active one is muxed into the
shared accumulator.

Pipeline: (1) input register; (2) decode into (sign, exp, significand, NaR) per lane; (3) lane
products and exponent sums; (4) alignment into the quire, sum of lanes, accumulate;
(5-6) normalise, round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from mixforge.hw.pe.arith import (
    adder_tree,
    decode_fp4,
    decode_posit,
    enabled_stage,
    round_to_float,
    round_to_posit,
)
from mixforge.hw.pe.specs import MultiFormatSpec, SeparateUnitsSpec
from mixforge.models.pe import QUIRE_BITS, QUIRE_LSB

__all__ = ["Mode", "MultiFormatMAC", "SeparateUnitsMAC", "multiformat_layout"]


class Mode(enum.Enum, shape=2):  # type: ignore[call-arg]
    """Run-time SIMD mode (the order of ``mixforge.models.pe.MODES``)."""

    FP4X4 = 0
    P4X4 = 1
    P8X2 = 2
    P16X1 = 3


_NAMES = {Mode.FP4X4: "fp4", Mode.P4X4: "p4", Mode.P8X2: "p8", Mode.P16X1: "p16"}
# format: (bits, sig width, min exp, max exp) with value = sig * 2**exp
_FMT = {"fp4": (4, 2, -1, 1), "p4": (4, 1, -4, 4), "p8": (8, 6, -11, 1), "p16": (16, 13, -40, 16)}
_POSIT = {"p4": (4, 1), "p8": (8, 0), "p16": (16, 1)}
# shared multiplier: operand offset of each lane per mode (products land on disjoint bits)
_OFFSETS = {Mode.FP4X4: (0, 3, 6, 9), Mode.P4X4: (0, 3, 6, 9), Mode.P8X2: (0, 7),
            Mode.P16X1: (0,)}
_MUL_W = 13


def multiformat_layout() -> data.StructLayout:
    """Input payload: operand words ``a``, ``b``; ``mode``; ``last`` closes the accumulation."""
    return data.StructLayout({"a": 16, "b": 16, "mode": Mode, "last": 1})


@dataclass(frozen=True)
class _Lane:
    """A physical lane: which (mode -> format, bit offset) it serves."""

    serves: dict[Any, tuple[str, int]]

    @property
    def sig_w(self) -> int:
        return max(_FMT[f][1] for f, _ in self.serves.values())

    @property
    def exp_range(self) -> tuple[int, int]:
        return (min(_FMT[f][2] for f, _ in self.serves.values()),
                max(_FMT[f][3] for f, _ in self.serves.values()))


def _lanes(shared: bool) -> list[_Lane]:
    if shared:
        return [_Lane({Mode.FP4X4: ("fp4", 0), Mode.P4X4: ("p4", 0), Mode.P8X2: ("p8", 0),
                       Mode.P16X1: ("p16", 0)}),
                _Lane({Mode.FP4X4: ("fp4", 4), Mode.P4X4: ("p4", 4), Mode.P8X2: ("p8", 8)}),
                _Lane({Mode.FP4X4: ("fp4", 8), Mode.P4X4: ("p4", 8)}),
                _Lane({Mode.FP4X4: ("fp4", 12), Mode.P4X4: ("p4", 12)})]
    return ([_Lane({Mode.FP4X4: ("fp4", 4 * j)}) for j in range(4)]
            + [_Lane({Mode.P4X4: ("p4", 4 * j)}) for j in range(4)]
            + [_Lane({Mode.P8X2: ("p8", 8 * j)}) for j in range(2)]
            + [_Lane({Mode.P16X1: ("p16", 0)})])


class _MacBase(wiring.Component):
    _shared = True

    def __init__(self, *, spec: MultiFormatSpec | None = None, **params: object):
        cls = MultiFormatSpec if self._shared else SeparateUnitsSpec
        self._spec = spec if spec is not None else cls(**params)
        ow = 32 if self._spec.out == "float32" else 16
        super().__init__({"i": In(stream.Signature(multiformat_layout())),
                          "o": Out(stream.Signature(ow))})

    @property
    def spec(self) -> MultiFormatSpec:
        return self._spec

    @property
    def latency(self) -> int:
        return self._spec.latency

    @property
    def throughput(self) -> float:
        return self._spec.throughput

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = _lanes(self._shared)
        adv = Signal()
        m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(adv)]

        # stage 1: input register
        v1, l1 = Signal(name="v1"), Signal(name="l1")
        a1, b1, md1 = Signal(16, name="a1"), Signal(16, name="b1"), Signal(Mode, name="mode1")
        with m.If(adv):
            m.d.sync += [v1.eq(self.i.valid), a1.eq(self.i.payload.a), b1.eq(self.i.payload.b),
                         md1.eq(self.i.payload.mode), l1.eq(self.i.payload.last)]

        # stage 2: decode per lane (registers of lanes the mode does not use hold still)
        v2, l2, md2 = Signal(name="v2"), Signal(name="l2"), Signal(Mode, name="mode2")
        with m.If(adv):
            m.d.sync += [v2.eq(v1), l2.eq(l1), md2.eq(md1)]
        dec: list[tuple[Signal, Signal, Signal, Signal, Signal, Signal, Signal]] = []
        for j, lane in enumerate(lanes):
            regs = (Signal(name=f"l{j}_sa"), Signal(signed(8), name=f"l{j}_ea"),
                    Signal(lane.sig_w, name=f"l{j}_ma"), Signal(name=f"l{j}_sb"),
                    Signal(signed(8), name=f"l{j}_eb"), Signal(lane.sig_w, name=f"l{j}_mb"),
                    Signal(name=f"l{j}_nar"))
            dec.append(regs)
            units = {mode: (self._decode(m, a1, fmt, off, f"l{j}a_{fmt}"),
                            self._decode(m, b1, fmt, off, f"l{j}b_{fmt}"))
                     for mode, (fmt, off) in lane.serves.items()}
            with m.If(adv & v1):
                with m.Switch(md1):
                    for mode, (ua, ub) in units.items():
                        with m.Case(mode):
                            m.d.sync += [regs[0].eq(ua.sign), regs[1].eq(ua.exp),
                                         regs[2].eq(ua.sig), regs[3].eq(ub.sign),
                                         regs[4].eq(ub.exp), regs[5].eq(ub.sig),
                                         regs[6].eq(ua.nar | ub.nar)]

        # stage 3: products (shared split array or one `*` per lane) and exponent sums
        v3, l3, md3 = Signal(name="v3"), Signal(name="l3"), Signal(Mode, name="mode3")
        with m.If(adv):
            m.d.sync += [v3.eq(v2), l3.eq(l2), md3.eq(md2)]
        products = self._shared_products(m, dec, md2) if self._shared else [
            d[2] * d[5] for d in dec]
        prod_regs = []
        for j, (lane, d) in enumerate(zip(lanes, dec, strict=True)):
            ps, pe_, pm, pn = (Signal(name=f"p{j}_s"), Signal(signed(9), name=f"p{j}_e"),
                               Signal(2 * lane.sig_w, name=f"p{j}_m"), Signal(name=f"p{j}_nar"))
            prod_regs.append((ps, pe_, pm, pn))
            with m.If(adv & v2 & self._uses(md2, lane)):
                m.d.sync += [ps.eq(d[0] ^ d[3]), pe_.eq(d[1] + d[4]), pm.eq(products[j]),
                             pn.eq(d[6])]

        # stage 4: align each lane within its group's window, add a group's lanes in that narrow
        # window, place the groups in the quire (shared: both groups add; separate units: the
        # active format's group is muxed), accumulate.
        acc, nan = Signal(signed(QUIRE_BITS), name="quire"), Signal(name="quire_nar")
        nar_now: Value = Const(0, 1)
        aligned: list[tuple[int, Value, Value]] = []  # (quire bit of bit 0, magnitude, use)
        for j, (lane, (ps, pe_, pm, pn)) in enumerate(zip(lanes, prod_regs, strict=True)):
            lo, hi = lane.exp_range
            emin, emax = 2 * lo, 2 * hi
            sh = Signal(range(emax - emin + 1), name=f"al{j}_sh")
            m.d.comb += sh.eq((pe_ - emin).as_unsigned()[: len(sh)])
            wide = Signal(2 * lane.sig_w + emax - emin, name=f"al{j}_wide")
            m.d.comb += wide.eq(pm << sh)
            use = self._uses(md3, lane)
            aligned.append((emin - QUIRE_LSB, Mux(ps, -wide, wide), use))
            nar_now = nar_now | (use & pn)
        placed_groups: list[tuple[Value, Value]] = []
        for g, members in enumerate(self._groups(lanes)):
            lo_b = min(aligned[j][0] for j in members)
            hi_b = max(aligned[j][0] + len(aligned[j][1])
                       for j in members) + len(members).bit_length() + 1
            gsum = Signal(signed(hi_b - lo_b), name=f"grp{g}_sum")
            terms = [Mux(aligned[j][2], aligned[j][1] << (aligned[j][0] - lo_b), 0)
                     for j in members]
            m.d.comb += gsum.eq(adder_tree(terms, hi_b - lo_b))
            placed = Signal(signed(QUIRE_BITS), name=f"grp{g}_q")
            # bits below the quire LSB are zero in every lane (posit16 products are multiples
            # of minpos**2), so dropping them is exact
            m.d.comb += placed.eq(gsum[-lo_b:].as_signed() if lo_b < 0 else (gsum << lo_b))
            use_g: Value = Const(0, 1)
            for j in members:
                use_g = use_g | aligned[j][2]
            placed_groups.append((placed, use_g))
        if self._shared:
            total: Value = adder_tree([acc, *(pg for pg, _ in placed_groups)], QUIRE_BITS)
        else:
            sel: Value = Const(0, signed(QUIRE_BITS))
            for pg, use_g in placed_groups:
                sel = Mux(use_g, pg, sel)
            total = (acc + sel)[:QUIRE_BITS].as_signed()
        acc_next = Signal(signed(QUIRE_BITS), name="quire_next")
        m.d.comb += acc_next.eq(total)
        v4, r4, rn4 = Signal(name="v4"), Signal(signed(QUIRE_BITS), name="r4"), Signal(name="rn4")
        with m.If(adv):
            m.d.sync += v4.eq(v3 & l3)
            with m.If(v3):
                with m.If(l3):
                    m.d.sync += [r4.eq(acc_next), rn4.eq(nan | nar_now), acc.eq(0), nan.eq(0)]
                with m.Else():
                    m.d.sync += [acc.eq(acc_next), nan.eq(nan | nar_now)]

        # stage 5: one rounding (its own Verilog module, so area is reported per part)
        core, m = m, Module()
        out = self._spec.out
        stage = enabled_stage(m, adv)
        if out == "posit16_es1":
            rounded = round_to_posit(m, r4, lsb=QUIRE_LSB, n=16, es=1, nan=rn4, name="rd",
                                     stage=stage)
        else:
            rounded = round_to_float(m, r4, lsb=QUIRE_LSB, fmt=out, nan=rn4, name="rd",
                                     stage=stage)
        v5 = Signal(name="v5")
        with m.If(adv):
            m.d.sync += [v5.eq(v4), self.o.valid.eq(v5), self.o.payload.eq(rounded)]
        top = Module()
        top.submodules.core = core
        top.submodules.readout = m
        return top

    def _groups(self, lanes: list[_Lane]) -> list[list[int]]:
        """Lanes summed together in a narrow window before entering the quire."""
        if self._shared:  # lane 0 (wide: posit16) | lanes 1-3 (narrow: <= posit8)
            return [[0], list(range(1, len(lanes)))]
        by_fmt: dict[str, list[int]] = {}
        for j, lane in enumerate(lanes):
            by_fmt.setdefault(next(iter(lane.serves.values()))[0], []).append(j)
        return list(by_fmt.values())

    @staticmethod
    def _uses(mode: Value, lane: _Lane) -> Value:
        use: Value = Const(0, 1)
        for md in lane.serves:
            use = use | (mode == md)
        return use

    @staticmethod
    def _decode(m: Module, word: Value, fmt: str, off: int, name: str):
        nb = _FMT[fmt][0]
        field = word[off: off + nb]
        if fmt == "fp4":
            return decode_fp4(field)
        n, es = _POSIT[fmt]
        return decode_posit(m, field, n=n, es=es, name=name)

    @staticmethod
    def _shared_products(m: Module, dec: list, mode: Value) -> list[Value]:
        """One 13x13 partial-product array, rows masked per mode so lanes never mix."""
        av, bv = Signal(_MUL_W, name="mul_a"), Signal(_MUL_W, name="mul_b")
        masks = [Signal(_MUL_W, name=f"mul_mask{i}") for i in range(_MUL_W)]
        with m.Switch(mode):
            for md, offs in _OFFSETS.items():
                with m.Case(md):
                    m.d.comb += [av.eq(sum((dec[j][2] << o for j, o in enumerate(offs)),
                                           Const(0, _MUL_W))),
                                 bv.eq(sum((dec[j][5] << o for j, o in enumerate(offs)),
                                           Const(0, _MUL_W)))]
                    width = _FMT[{Mode.FP4X4: "fp4", Mode.P4X4: "fp4", Mode.P8X2: "p8",
                                  Mode.P16X1: "p16"}[md]][1]
                    for i in range(_MUL_W):
                        owner = [o for o in offs if o <= i < o + width]
                        mask = (((1 << width) - 1) << owner[0]) if owner else 0
                        m.d.comb += masks[i].eq(mask)
        prod = Signal(2 * _MUL_W, name="mul_p")
        m.d.comb += prod.eq(sum((Mux(bv[i], av & masks[i], 0) << i for i in range(_MUL_W)),
                                Const(0, 2 * _MUL_W)))
        out: list[Value] = []
        for j in range(4):
            cases = {md: offs[j] for md, offs in _OFFSETS.items() if j < len(offs)}
            width = {0: 13, 1: 6}.get(j, 2)
            sel: Value = Const(0, 2 * width)
            for md, o in cases.items():
                w = _FMT[_NAMES[md]][1]
                sel = Mux(mode == md, prod[2 * o: 2 * o + 2 * w], sel)
            out.append(sel)
        return out


class MultiFormatMAC(_MacBase):
    """XR-NPE-style SIMD MAC with a shared, mode-split multiplier (see the module docstring).

    Ports: ``i`` (stream, :func:`multiformat_layout`), ``o`` (stream, ``out`` pattern).
    Parameters (keyword-only): ``out`` in posit16_es1 / float16 / float32, or ``spec``.
    """

    _shared = True


class SeparateUnitsMAC(_MacBase):
    """Baseline: one decoder, ``*`` multiplier and aligner per format and lane, muxed."""

    _shared = False
