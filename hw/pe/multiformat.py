"""MultiFormatMAC (XR-NPE style) and its shared-quire baseline: one 16-bit SIMD MAC datapath.

Run-time ``mode`` per element (:class:`Mode`): 4 x FP4 (E2M1), 4 x posit(4,1), 2 x posit(8,0),
1 x posit(16,1). Lane products are exact and accumulate into a 128-bit quire (LSB 2**-56);
``last`` rounds the quire once into ``out`` (posit16_es1, float16 or float32). Function:
``mixforge.models.pe.multiformat_mac``.

Shared (``MultiFormatMAC``, RMMEC): four physical lanes serve every mode (lane 0: all formats,
lane 1: FP4/posit4/posit8, lanes 2-3: FP4/posit4). Each lane has ONE run-time configurable posit
decoder per operand (:func:`~mixforge.hw.pe.arith.decode_posit_es01`: lane 0 decodes posit(16,1),
posit(8,0) and posit(4,1) left-aligned in 16 bits, lane 1 posit(8,0) and posit(4,1) in 8 bits)
plus a few gates for FP4, one exponent adder, and one slice of a shared 13x13 partial-product
array that mode-dependent row masks split into 1, 2 or 4 independent products (no cross terms).
In every mode exactly one aligned group enters the quire through a single 2-input adder: lane 0
alone (posit16), or all active lanes summed in a narrow window (FP4 / posit4 / posit8; lane 0's
aligner output is sliced into that window). Lanes a mode does not use are gated: their pipeline
registers keep their value.

Baseline ``SharedQuireMAC`` ("separate multipliers, shared quire"): every format has its own
lanes (decoder, ``*`` multiplier, aligner, group adder); the active format's group is muxed into
the same quire and readout as the shared design. The baseline with one complete MAC per format
(own accumulator and readout) is :class:`mixforge.hw.pe.separate_macs.SeparateMacsMAC`.

Pipeline: (1) input register; (2) decode into (sign, exp, significand, NaR) per lane; (3) lane
products (two's complement) and exponent sums; (4) alignment into the quire, sum of lanes,
accumulate; (5-6) normalise, round (posit output: ``round_to_posit_lean``, same function as
``round_to_posit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, enum

from mixforge.hw.pe.arith import (
    Unpacked,
    adder_tree,
    decode_fp4,
    decode_posit,
    decode_posit_es01,
    enabled_stage,
    round_to_float,
    round_to_posit_lean,
)
from mixforge.hw.pe.specs import MultiFormatSpec, SharedQuireSpec
from mixforge.hw.pe.stream import StreamPE
from mixforge.models.pe import QUIRE_BITS, QUIRE_LSB

__all__ = ["Mode", "MultiFormatMAC", "SharedQuireMAC", "multiformat_layout", "decode_word",
           "lane_sig_widths", "lane_exp_ranges", "lane_modes", "lane_products", "quire_term",
           "decode_format", "align_product", "place_sum", "format_term"]


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
#: significand width of a multiplier slot per mode
_SLOT_W = {Mode.FP4X4: 2, Mode.P4X4: 2, Mode.P8X2: 6, Mode.P16X1: 13}
#: shared design: LSB of a mode's significand slice in lane 0's 13-bit / lane 1's 6-bit
#: decoder significand (posit(8,0) in lane 0: the top 6 bits; posit(4,1): the hidden bit and
#: the zero fraction bit below it; FP4 is written into the same slice)
_SLOT_LSB = {0: {Mode.P8X2: 7, Mode.P4X4: 11, Mode.FP4X4: 11},
             1: {Mode.P4X4: 4, Mode.FP4X4: 4}}


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


class _MacBase(StreamPE):
    _shared = True

    def __init__(self, *, spec: MultiFormatSpec | None = None, **params: object):
        cls = MultiFormatSpec if self._shared else SharedQuireSpec
        sp = spec if spec is not None else cls(**params)
        super().__init__(sp, multiformat_layout(), sp.out)

    @property
    def spec(self) -> MultiFormatSpec:
        return self._spec

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = _lanes(self._shared)
        adv = self._adv(m)

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
            with m.If(adv & v1):
                if self._shared:
                    ua = self._decode_shared(m, a1, md1, j, f"l{j}a")
                    ub = self._decode_shared(m, b1, md1, j, f"l{j}b")
                    with m.If(self._uses(md1, lane)):
                        m.d.sync += [regs[0].eq(ua.sign), regs[1].eq(ua.exp),
                                     regs[2].eq(ua.sig), regs[3].eq(ub.sign),
                                     regs[4].eq(ub.exp), regs[5].eq(ub.sig),
                                     regs[6].eq(ua.nar | ub.nar)]
                    continue
                units = {mode: (decode_format(m, a1[off: off + _FMT[fmt][0]], fmt,
                                              name=f"l{j}a_{fmt}"),
                                decode_format(m, b1[off: off + _FMT[fmt][0]], fmt,
                                              name=f"l{j}b_{fmt}"))
                         for mode, (fmt, off) in lane.serves.items()}
                with m.Switch(md1):
                    for mode, (ua, ub) in units.items():
                        with m.Case(mode):
                            m.d.sync += [regs[0].eq(ua.sign), regs[1].eq(ua.exp),
                                         regs[2].eq(ua.sig), regs[3].eq(ub.sign),
                                         regs[4].eq(ub.exp), regs[5].eq(ub.sig),
                                         regs[6].eq(ua.nar | ub.nar)]

        # stage 3: products (shared split array or one `*` per lane), negated to two's
        # complement here (a 2w+1-bit negation instead of one on the wide aligned value), and
        # exponent sums
        v3, l3, md3 = Signal(name="v3"), Signal(name="l3"), Signal(Mode, name="mode3")
        with m.If(adv):
            m.d.sync += [v3.eq(v2), l3.eq(l2), md3.eq(md2)]
        prods = lane_products(m, dec, md2, shared=self._shared)
        prod_regs = []
        for j, (lane, (ce, cm, cn)) in enumerate(zip(lanes, prods, strict=True)):
            pe_, pm, pn = (Signal.like(ce, name=f"p{j}_e"), Signal.like(cm, name=f"p{j}_m"),
                           Signal(name=f"p{j}_nar"))
            prod_regs.append((pe_, pm, pn))
            with m.If(adv & v2 & _MacBase._uses(md2, lane)):
                m.d.sync += [pe_.eq(ce), pm.eq(cm), pn.eq(cn)]

        # stage 4: align each lane (a signed left shift), sum a group's lanes in its narrow
        # window, put exactly one group into the quire through one 2-input adder, accumulate
        acc, nan = Signal(signed(QUIRE_BITS), name="quire"), Signal(name="quire_nar")
        sel, nar_now = quire_term(m, prod_regs, md3, shared=self._shared)
        acc_next = Signal(signed(QUIRE_BITS), name="quire_next")
        m.d.comb += acc_next.eq(acc + sel)
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
            rounded = round_to_posit_lean(m, r4, lsb=QUIRE_LSB, n=16, es=1, nan=rn4, name="rd",
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

    @staticmethod
    def _shared_groups(m: Module, aligned: list[tuple[int, Value]], mode: Value,
                       sel: Signal, prefix: str = "") -> None:
        """posit16: lane 0 alone; other modes: lane 0's window slice + the active lanes 1-3."""
        off0, wide0 = aligned[0]
        wide_q = Signal(signed(QUIRE_BITS), name=f"{prefix}grp_wide_q")
        m.d.comb += wide_q.eq(wide0[-off0:].as_signed() if off0 < 0 else wide0 << off0)
        # lane 0 in FP4 / posit4 / posit8 modes: exponents -11..4 (posit8 sig LSB .. posit4)
        lo0 = 2 * min(_FMT[f][2] for f in ("fp4", "p4", "p8")) - QUIRE_LSB
        hi0 = max(off + len(v) for off, v in aligned[1:])
        slice0 = wide0[lo0 - off0: hi0 - off0].as_signed()
        p8 = mode == Mode.P8X2  # lanes 2-3 are idle (and hold stale values) in posit8 mode
        terms = [(lo0, slice0), aligned[1],
                 *((off, Mux(p8, 0, v)) for off, v in aligned[2:])]
        narrow_q = place_sum(m, terms, QUIRE_BITS, name=f"{prefix}grp_narrow")
        m.d.comb += sel.eq(Mux(mode == Mode.P16X1, wide_q, narrow_q))

    @staticmethod
    def _decode_shared(m: Module, word: Value, mode: Value, j: int, name: str):
        """Lane ``j``'s one configurable decoder (see the module docstring) + the FP4 gates.

        The significand stays where the decoder puts it (lane 0: 13 bits, lane 1: 6); a
        narrower format's significand is a slice of it (:data:`_SLOT_LSB`), and the slice's
        exponent offset is added once per product in stage 3 (:meth:`_exp_offset`), so no
        per-operand re-alignment is needed. FP4 is written into the same slice.
        """
        p16, p8, fp4 = mode == Mode.P16X1, mode == Mode.P8X2, mode == Mode.FP4X4
        f4 = decode_fp4(word[4 * j: 4 * j + 4])
        if j >= 2:  # FP4 / posit4 only
            u = decode_posit(m, word[4 * j: 4 * j + 4], n=4, es=1, name=f"{name}_p")
            return Unpacked(sign=Mux(fp4, f4.sign, u.sign), exp=Mux(fp4, f4.exp, u.exp),
                            sig=Mux(fp4, f4.sig, u.sig), nar=~fp4 & u.nar)
        n, fb = (16, 12) if j == 0 else (8, 5)
        field = Signal(n, name=f"{name}_field")  # the operand left-aligned in n bits
        if j == 0:
            m.d.comb += field.eq(Mux(p16, word, Mux(p8, Cat(Const(0, 8), word[:8]),
                                                    Cat(Const(0, 12), word[:4]))))
        else:
            m.d.comb += field.eq(Mux(p8, word[8:16], Cat(Const(0, 4), word[4:8])))
        u = decode_posit_es01(m, field, es=~p8, frac_bits=fb, name=f"{name}_p")
        lsb = _SLOT_LSB[j][Mode.FP4X4]
        return Unpacked(sign=Mux(fp4, f4.sign, u.sign), exp=Mux(fp4, f4.exp - lsb, u.exp),
                        sig=Mux(fp4, f4.sig << lsb, u.sig), nar=~fp4 & u.nar)

    @staticmethod
    def _exp_offset(mode: Value, j: int) -> Value:
        """Exponent correction of lane ``j``'s product for the significand slice it used."""
        off: Value = Const(0, 6)
        for md, lsb in _SLOT_LSB.get(j, {}).items():
            off = Mux(mode == md, 2 * lsb, off)
        return off

    @staticmethod
    def _groups(lanes: list[_Lane]) -> list[list[int]]:
        """Separate units: each format's lanes are summed together in a narrow window."""
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
    def _shared_products(m: Module, dec: list, mode: Value, prefix: str = "") -> list[Value]:
        """One 13x13 partial-product array, rows masked per mode so lanes never mix."""
        av, bv = (Signal(_MUL_W, name=f"{prefix}mul_a"),
                  Signal(_MUL_W, name=f"{prefix}mul_b"))
        masks = [Signal(_MUL_W, name=f"{prefix}mul_mask{i}") for i in range(_MUL_W)]

        def slot(j: int, k: int, md: Any) -> Value:  # lane j's significand slice in mode md
            lsb = _SLOT_LSB.get(j, {}).get(md, 0)
            return dec[j][k][lsb: lsb + _SLOT_W[md]]

        with m.Switch(mode):
            for md, offs in _OFFSETS.items():
                with m.Case(md):
                    for reg, k in ((av, 2), (bv, 5)):
                        parts: list[Value] = []
                        for j, o in enumerate(offs):  # disjoint fields: concatenate, no adder
                            pos = sum(len(p) for p in parts)
                            parts += [Const(0, o - pos), slot(j, k, md)]
                        m.d.comb += reg.eq(Cat(*parts))
                    width = _SLOT_W[md]
                    for i in range(_MUL_W):
                        owner = [o for o in offs if o <= i < o + width]
                        mask = (((1 << width) - 1) << owner[0]) if owner else 0
                        m.d.comb += masks[i].eq(mask)
        prod = Signal(2 * _MUL_W, name=f"{prefix}mul_p")
        m.d.comb += prod.eq(sum((Mux(bv[i], av & masks[i], 0) << i for i in range(_MUL_W)),
                                Const(0, 2 * _MUL_W)))
        out: list[Value] = []
        for j in range(4):
            cases = {md: offs[j] for md, offs in _OFFSETS.items() if j < len(offs)}
            width = {0: 13, 1: 6}.get(j, 2)
            sel: Value = Const(0, 2 * width)
            for md, o in cases.items():
                sel = Mux(mode == md, prod[2 * o: 2 * o + 2 * _SLOT_W[md]], sel)
            out.append(sel)
        return out


class MultiFormatMAC(_MacBase):
    """XR-NPE-style SIMD MAC with a shared, mode-split multiplier (see the module docstring).

    Ports: ``i`` (stream, :func:`multiformat_layout`), ``o`` (stream, ``out`` pattern).
    Parameters (keyword-only): ``out`` in posit16_es1 / float16 / float32, or ``spec``.
    """

    _shared = True


class SharedQuireMAC(_MacBase):
    """Baseline "separate multipliers, shared quire": one decoder, ``*`` multiplier and aligner
    per format and lane, the active format's lane sum muxed into the shared quire and readout."""

    _shared = False


# ------------------------------------------------------------------ builders (PE and array)


def decode_format(m: Module, field: Value, fmt: str, *, name: str) -> Unpacked:
    """A lane's own decoder of one format (``fp4``: a few gates; posits: ``decode_posit``):
    the separate-units baselines' front end (``SharedQuireMAC``, ``SeparateMacsMAC``)."""
    if fmt == "fp4":
        return decode_fp4(field)
    n, es = _POSIT[fmt]
    return decode_posit(m, field, n=n, es=es, name=name)


def decode_word(m: Module, word: Value, mode: Value, *, shared: bool = True,
                name: str) -> list[Unpacked]:
    """The lane decoders of one 16-bit operand word: lane ``j`` -> (sign, exponent of the
    significand LSB, significand, NaR). Shared design: four run-time configurable decoders
    (``mode``); a lane the mode does not use decodes a meaningless value that
    :func:`lane_products` / :func:`quire_term` ignore. Baseline (``shared=False``): every one
    of the eleven lanes decodes its own format's field (:func:`decode_format`)."""
    if shared:
        return [_MacBase._decode_shared(m, word, mode, j, f"{name}{j}") for j in range(4)]
    out = []
    for j, lane in enumerate(_lanes(False)):
        ((fmt, off),) = lane.serves.values()
        out.append(decode_format(m, word[off: off + _FMT[fmt][0]], fmt, name=f"{name}{j}"))
    return out


def lane_sig_widths(shared: bool = True) -> list[int]:
    """Significand width of every physical lane (shared design: 13, 6, 2, 2)."""
    return [lane.sig_w for lane in _lanes(shared)]


def lane_exp_ranges(shared: bool = True) -> list[tuple[int, int]]:
    """(min, max) exponent of a decoded significand's LSB of every physical lane, over the
    formats it serves (shared lanes also hold their slot offsets: use 8-bit exponents)."""
    return [lane.exp_range for lane in _lanes(shared)]


def lane_modes(shared: bool = True) -> list[list[Mode]]:
    """The modes each physical lane serves (baseline: exactly one per lane)."""
    return [list(lane.serves) for lane in _lanes(shared)]


def _signed_product(d: tuple) -> tuple[Value, Value]:
    """One lane's own ``*`` multiplier and exponent adder: ``(ea + eb, +-ma * mb)`` from the
    decoded operands ``d = (sa, ea, ma, sb, eb, mb, nar)``."""
    prod = d[2] * d[5]
    return d[1] + d[4], Mux(d[0] ^ d[3], -prod, prod)


def lane_products(m: Module, dec: list, mode: Value, *, shared: bool = True,
                  name: str = "") -> list[tuple[Signal, Signal, Value]]:
    """The MAC's stage 3, combinational: per lane ``(exponent of the product LSB, exact signed
    product, NaR)`` from the decoded operands ``dec[j] = (sa, ea, ma, sb, eb, mb, nar)``.

    Shared design: one mode-split 13x13 partial-product array; baseline: one ``*`` per lane.
    """
    lanes = _lanes(shared)
    products = _MacBase._shared_products(m, dec, mode, name) if shared else None
    out: list[tuple[Signal, Signal, Value]] = []
    for j, (lane, d) in enumerate(zip(lanes, dec, strict=True)):
        e = Signal(signed(9), name=f"{name}pc{j}_e")
        p = Signal(signed(2 * lane.sig_w + 1), name=f"{name}pc{j}_m")
        if products is not None:
            pj = products[j]
            m.d.comb += [e.eq(d[1] + d[4] + _MacBase._exp_offset(mode, j)),
                         p.eq(Mux(d[0] ^ d[3], -pj, pj))]
        else:
            ce, cp = _signed_product(d)
            m.d.comb += [e.eq(ce), p.eq(cp)]
        out.append((e, p, d[6]))
    return out


def align_product(m: Module, e: Value, p: Value, exp_range: tuple[int, int], lsb: int, *,
                  name: str) -> tuple[int, Signal]:
    """Align one lane product (exponent ``e`` of its LSB, signed ``p``) of a lane whose
    operands' significand-LSB exponents lie in ``exp_range``: a signed left shift by
    ``e - 2 * min``. Returns ``(frame bit of bit 0, aligned value)`` for a fixed-point frame
    with LSB ``2**lsb``."""
    lo, hi = exp_range
    emin, emax = 2 * lo, 2 * hi
    sh = Signal(range(emax - emin + 1), name=f"{name}_sh")
    m.d.comb += sh.eq((e - emin).as_unsigned()[: len(sh)])
    wide = Signal(signed(len(p) + emax - emin), name=f"{name}_wide")
    m.d.comb += wide.eq(p << sh)
    return emin - lsb, wide


def place_sum(m: Module, terms: list[tuple[int, Value]], bits: int, *, name: str) -> Signal:
    """Sum signed ``(frame bit of bit 0, value)`` terms in their narrow window, placed in a
    ``bits``-wide frame (sign-extended / wrapped). Bits below the frame's LSB are zero in every
    lane (products are multiples of the format's minpos**2), so dropping them is exact."""
    lo_b = min(off for off, _ in terms)
    hi_b = max(off + len(v) for off, v in terms) + len(terms).bit_length()
    gsum = Signal(signed(hi_b - lo_b), name=f"{name}_sum")
    m.d.comb += gsum.eq(adder_tree([v << (off - lo_b) for off, v in terms], hi_b - lo_b))
    placed = Signal(signed(bits), name=f"{name}_q")
    m.d.comb += placed.eq(gsum[-lo_b:].as_signed() if lo_b < 0 else (gsum << lo_b))
    return placed


def format_term(m: Module, prods: list[tuple[Value, Value, Value]], fmt: str, *, bits: int,
                lsb: int, lane0: int = 0, prefix: str = "", name: str) -> tuple[Signal, Value]:
    """One format's lane products (``fmt``'s own lanes, numbered from ``lane0``) aligned and
    summed into a ``bits``-wide fixed-point frame with LSB ``2**lsb`` (``SharedQuireMAC``: the
    quire; ``SeparateMacsMAC``: the format's own accumulator), and the OR of their NaR flags."""
    _, _, lo, hi = _FMT[fmt]
    terms = [align_product(m, pe_, pm, (lo, hi), lsb, name=f"{prefix}al{lane0 + k}")
             for k, (pe_, pm, _) in enumerate(prods)]
    nar: Value = Const(0, 1)
    for _, _, pn in prods:
        nar = nar | pn
    return place_sum(m, terms, bits, name=name), nar


def quire_term(m: Module, prods: list[tuple[Value, Value, Value]], mode: Value, *,
               shared: bool = True, name: str = "") -> tuple[Signal, Value]:
    """The MAC's stage 4 before the accumulator: align every lane product (a signed left shift),
    sum the active lanes in their narrow window and place exactly one group in the quire
    (``QUIRE_BITS`` signed, LSB ``2**QUIRE_LSB``); plus the NaR of the active lanes."""
    lanes = _lanes(shared)
    sel = Signal(signed(QUIRE_BITS), name=f"{name}quire_in")
    nar_now: Value = Const(0, 1)
    if shared:
        aligned = [align_product(m, pe_, pm, lane.exp_range, QUIRE_LSB, name=f"{name}al{j}")
                   for j, (lane, (pe_, pm, _)) in enumerate(zip(lanes, prods, strict=True))]
        for lane, (_, _, pn) in zip(lanes, prods, strict=True):
            nar_now = nar_now | (_MacBase._uses(mode, lane) & pn)
        _MacBase._shared_groups(m, aligned, mode, sel, name)
        return sel, nar_now
    pick: Value = Const(0, signed(QUIRE_BITS))
    for g, members in enumerate(_MacBase._groups(lanes)):
        fmt = next(iter(lanes[members[0]].serves.values()))[0]
        placed, gn = format_term(m, [prods[j] for j in members], fmt, bits=QUIRE_BITS,
                                 lsb=QUIRE_LSB, lane0=members[0], prefix=name,
                                 name=f"{name}grp{g}")
        use_g = _MacBase._uses(mode, lanes[members[0]])
        pick = Mux(use_g, placed, pick)
        nar_now = nar_now | (use_g & gn)
    m.d.comb += sel.eq(pick)
    return sel, nar_now
