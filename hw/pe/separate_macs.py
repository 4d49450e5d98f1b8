"""SeparateMacsMAC: the multi-format baseline the papers compare with - one complete MAC per
format, outputs muxed.

Same ports, modes, latency and throughput as :class:`~mixforge.hw.pe.multiformat.MultiFormatMAC`
(16-bit SIMD words; 4 x FP4, 4 x posit(4,1), 2 x posit(8,0), 1 x posit(16,1)), but nothing is
shared except the input register: each format has its own lanes (decoder, ``*`` multiplier,
exponent adder, aligner), its own exact accumulator sized for that format
(``mixforge.models.pe.SEPARATE_ACC``: 26 / 34 / 41 / 128 bits) and its own readout rounding into
``out``; the mode of the element carrying ``last`` selects which MAC is read out, and ``last``
clears every accumulator. The mode is meant to stay fixed within an accumulation (XR-NPE picks
the format per layer). Function: ``mixforge.models.pe.separate_macs_mac``.

MACs a mode does not use are gated (their registers hold still). Pipeline as the shared design:
(1) input register; (2) decode; (3) products, exponent sums; (4) align, sum lanes, accumulate;
(5-6) normalise, round, output mux.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed

from mixforge.hw.pe.arith import enabled_stage, round_to_float, round_to_posit_lean
from mixforge.hw.pe.multiformat import (
    _FMT,
    _NAMES,
    Mode,
    _signed_product,
    decode_format,
    format_term,
    multiformat_layout,
)
from mixforge.hw.pe.specs import SeparateMacsSpec
from mixforge.hw.pe.stream import StreamPE
from mixforge.models.pe import MODE_LANES, SEPARATE_ACC

__all__ = ["SeparateMacsMAC", "mode_name", "readouts", "pick_readout"]


def mode_name(mode: Mode) -> str:
    """``models.pe.MODES`` name of a :class:`Mode`."""
    return ("fp4x4", "p4x4", "p8x2", "p16x1")[mode.value]


def readouts(m: Module, accs: dict[Mode, tuple[Value, Value]], *, out: str, stage: object,
             prefix: str = "") -> dict[Mode, Value]:
    """One readout per MAC: each format's accumulator ``(value, NaR)`` (LSB
    ``SEPARATE_ACC[mode][1]``, any width) rounded once into ``out`` (``stage``: the rounders'
    pipeline register enable, ``arith.enabled_stage``)."""
    results: dict[Mode, Value] = {}
    for mode, (r4, rn4) in accs.items():
        lsb = SEPARATE_ACC[mode_name(mode)][1]
        nm = f"{prefix}rd_{_NAMES[mode]}"
        if out == "posit16_es1":
            results[mode] = round_to_posit_lean(m, r4, lsb=lsb, n=16, es=1, nan=rn4, name=nm,
                                                stage=stage)
        else:
            results[mode] = round_to_float(m, r4, lsb=lsb, fmt=out, nan=rn4, name=nm,
                                           stage=stage)
    return results


def pick_readout(results: dict[Mode, Value], mode: Value) -> Value:
    """The output mux: the readout of ``mode``'s MAC."""
    picked: Value = results[Mode.P16X1]
    for md in (Mode.P8X2, Mode.P4X4, Mode.FP4X4):
        picked = Mux(mode == md, results[md], picked)
    return picked


class SeparateMacsMAC(StreamPE):
    """Baseline: one complete MAC (decode, ``*``, accumulator, readout) per format, muxed.

    Ports: ``i`` (stream, :func:`~mixforge.hw.pe.multiformat.multiformat_layout`), ``o``
    (stream, ``out`` pattern). Parameters (keyword-only): ``out`` in posit16_es1 / float16 /
    float32, or ``spec``. Lane registers are numbered across MACs: FP4 lanes 0-3, posit4 4-7,
    posit8 8-9, posit16 10.
    """

    def __init__(self, *, spec: SeparateMacsSpec | None = None, **params: object):
        sp = spec if spec is not None else SeparateMacsSpec(**params)  # type: ignore[arg-type]
        super().__init__(sp, multiformat_layout(), sp.out)

    @property
    def spec(self) -> SeparateMacsSpec:
        return self._spec

    def elaborate(self, platform: object) -> Module:
        m = Module()
        adv = self._adv(m)

        # stage 1: input register (the only shared part)
        v1, l1 = Signal(name="v1"), Signal(name="l1")
        a1, b1, md1 = Signal(16, name="a1"), Signal(16, name="b1"), Signal(Mode, name="mode1")
        with m.If(adv):
            m.d.sync += [v1.eq(self.i.valid), a1.eq(self.i.payload.a), b1.eq(self.i.payload.b),
                         md1.eq(self.i.payload.mode), l1.eq(self.i.payload.last)]
        v2, l2, md2 = Signal(name="v2"), Signal(name="l2"), Signal(Mode, name="mode2")
        v3, l3, md3 = Signal(name="v3"), Signal(name="l3"), Signal(Mode, name="mode3")
        v4, md4 = Signal(name="v4"), Signal(Mode, name="mode4")
        with m.If(adv):
            m.d.sync += [v2.eq(v1), l2.eq(l1), md2.eq(md1), v3.eq(v2), l3.eq(l2), md3.eq(md2),
                         v4.eq(v3 & l3)]
            with m.If(v3 & l3):
                m.d.sync += md4.eq(md3)

        snapshots: dict[Mode, tuple[Signal, Signal]] = {}
        lane0 = 0
        for mode in Mode:
            snapshots[mode] = self._mac(m, mode, lane0, adv, (v1, a1, b1, md1), (v2, md2),
                                        (v3, l3, md3))
            lane0 += MODE_LANES[mode_name(mode)][1]

        # stages 5-6: one readout per MAC (own Verilog module, so area is reported per part);
        # the mode of the last element picks the output
        core, m = m, Module()
        results = readouts(m, snapshots, out=self._spec.out, stage=enabled_stage(m, adv))
        v5, md5 = Signal(name="v5"), Signal(Mode, name="mode5")
        picked = pick_readout(results, md5)
        with m.If(adv):
            m.d.sync += [v5.eq(v4), md5.eq(md4), self.o.valid.eq(v5), self.o.payload.eq(picked)]
        top = Module()
        top.submodules.core = core
        top.submodules.readout = m
        return top

    def _mac(self, m: Module, mode: Mode, lane0: int, adv: Value, s1: tuple, s2: tuple,
             s3: tuple) -> tuple[Signal, Signal]:
        """One format's MAC through stage 4; returns its readout snapshot (value, NaR)."""
        v1, a1, b1, md1 = s1
        v2, md2 = s2
        v3, l3, md3 = s3
        fmt = _NAMES[mode]
        nb, sig_w, _, _ = _FMT[fmt]
        lanes = MODE_LANES[mode_name(mode)][1]
        acc_bits, acc_lsb = SEPARATE_ACC[mode_name(mode)]
        prod_regs: list[tuple[Value, Value, Value]] = []
        for k in range(lanes):
            j = lane0 + k
            # stage 2: this lane's own decoders
            sa, ea, ma = (Signal(name=f"l{j}_sa"), Signal(signed(8), name=f"l{j}_ea"),
                          Signal(sig_w, name=f"l{j}_ma"))
            sb, eb, mb = (Signal(name=f"l{j}_sb"), Signal(signed(8), name=f"l{j}_eb"),
                          Signal(sig_w, name=f"l{j}_mb"))
            dn = Signal(name=f"l{j}_nar")
            ua = decode_format(m, a1[k * nb: (k + 1) * nb], fmt, name=f"l{j}a")
            ub = decode_format(m, b1[k * nb: (k + 1) * nb], fmt, name=f"l{j}b")
            with m.If(adv & v1 & (md1 == mode)):
                m.d.sync += [sa.eq(ua.sign), ea.eq(ua.exp), ma.eq(ua.sig), sb.eq(ub.sign),
                             eb.eq(ub.exp), mb.eq(ub.sig), dn.eq(ua.nar | ub.nar)]
            # stage 3: its own multiplier and exponent adder
            pe_, pm, pn = (Signal(signed(9), name=f"p{j}_e"),
                           Signal(signed(2 * sig_w + 1), name=f"p{j}_m"),
                           Signal(name=f"p{j}_nar"))
            ce, cp = _signed_product((sa, ea, ma, sb, eb, mb, dn))
            with m.If(adv & v2 & (md2 == mode)):
                m.d.sync += [pe_.eq(ce), pm.eq(cp), pn.eq(dn)]
            prod_regs.append((pe_, pm, pn))
        # stage 4: align into this MAC's accumulator, lane sum in its frame
        placed, nar_now = format_term(m, prod_regs, fmt, bits=acc_bits, lsb=acc_lsb,
                                      lane0=lane0, name=f"mac_{fmt}")
        acc, nan = Signal(signed(acc_bits), name=f"acc_{fmt}"), Signal(name=f"acc_{fmt}_nar")
        acc_next = Signal(signed(acc_bits), name=f"acc_{fmt}_next")
        m.d.comb += acc_next.eq(acc + placed)
        r4, rn4 = Signal(signed(acc_bits), name=f"r4_{fmt}"), Signal(name=f"rn4_{fmt}")
        mine = md3 == mode
        with m.If(adv & v3):
            with m.If(l3):  # the end of a sequence clears every MAC; its own mode is read out
                with m.If(mine):
                    m.d.sync += [r4.eq(acc_next), rn4.eq(nan | nar_now)]
                m.d.sync += [acc.eq(0), nan.eq(0)]
            with m.Elif(mine):
                m.d.sync += [acc.eq(acc_next), nan.eq(nan | nar_now)]
        return r4, rn4
