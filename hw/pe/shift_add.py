"""ShiftAddPE: the MixPE processing element (shift-and-add products, one dequant per group)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data

from mixforge.hw.pe.arith import (
    enabled_stage,
    fp16_to_fixed,
    round_to_float,
    shift_add_product,
    ternary_product,
)
from mixforge.hw.pe.dequant import dequant_term, serial_dequant
from mixforge.hw.pe.specs import SERIAL_DIGIT, ShiftAddSpec
from mixforge.hw.pe.stream import StreamPE
from mixforge.models.pe import shift_add_arith

__all__ = ["ShiftAddPE", "shift_add_layout"]


def shift_add_layout(spec: ShiftAddSpec) -> data.StructLayout:
    """Input payload: weight code, activation, group scale (fp16), zero point (int8), last."""
    return data.StructLayout({"w": spec.k, "a": 8 if spec.act == "int8" else 16,
                              "scale": 16, "zero": 8, "last": 1})


class ShiftAddPE(StreamPE):
    """k-bit integer weight x INT8/FP16 activation PE without any multiplier.

    Ports: ``i`` (stream in, payload :func:`shift_add_layout`), ``o`` (stream out, one
    ``out``-format pattern per sequence). Function: ``mixforge.models.pe.shift_add_pe`` - a
    group closes after ``group`` products or at ``last`` and uses the scale/zero point given with
    its final element; the output appears ``latency`` cycles after ``last`` is accepted.

    Pipeline: (1) shift-and-add product ``sum w_i (a << i)`` [fp16: of the significand, then
    shifted by the exponent]; (2) group sums of ``w*a`` and ``a``; (3) zero point
    ``P = sum(wa) - z*sum(a)`` by shift-and-add; (4) ``m_s * P`` by shift-and-add over the
    11-bit scale significand; (5) exponent shift + exact accumulate; (6-7) one rounding into
    ``out`` (normalise, then round). All stages stall together when the output is held
    (``o.ready`` low).

    Parameters (keyword-only): ``k`` in {2, 3, 4, 8}, ``act`` ``int8``/``fp16``, ``group``
    1..4096, ``out`` ``float32``/``float16``, ``ternary`` (k = 2); or ``spec=ShiftAddSpec``.
    """

    def __init__(self, *, spec: ShiftAddSpec | None = None, **params: object):
        sp = spec if spec is not None else ShiftAddSpec(**params)
        super().__init__(sp, shift_add_layout(sp), sp.out)

    @property
    def spec(self) -> ShiftAddSpec:
        return self._spec

    def elaborate(self, platform: object) -> Module:
        m = Module()
        sp = self._spec
        ar = shift_add_arith(k=sp.k, act=sp.act, group=sp.group)
        serial = sp.dequant == "serial"
        # per-product datapath (an array cell) | once-per-group dequant + readout (shareable)
        core, deq = Module(), Module()
        if serial:  # the output stalls everything; a busy dequant unit stalls stages 1-2
            adv, go, free = Signal(name="adv"), Signal(name="go"), Signal(name="unit_free")
            m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(go)]
        else:
            adv = go = self._adv(m)
        pl = self.i.payload
        take = self.i.valid & go

        # stage 1: product by shifted partial products, group counter
        if sp.act == "int8":
            afx, bad_a = pl.a.as_signed(), 0
            sig = afx
        else:
            afx, bad_a = fp16_to_fixed(core, pl.a, name="afx")
            mag = Cat(pl.a[:10], pl.a[10:15] != 0)
            sig = Mux(pl.a[15], -mag, mag)
        prod_sig = ternary_product(pl.w, sig) if sp.ternary else shift_add_product(pl.w, sig)
        if sp.act == "fp16":
            exp_sh = Mux(pl.a[10:15] == 0, 0, pl.a[10:15] - 1).as_unsigned()[:5]
            prod = (prod_sig << exp_sh)
        else:
            prod = prod_sig
        cnt = Signal(range(max(sp.group, 2)), name="grp_cnt")
        gend = (cnt == sp.group - 1) | pl.last
        v1, p1 = Signal(name="v1"), Signal(signed(ar.prod), name="p1")
        a1 = Signal(signed(ar.act), name="a1")
        s1, z1, l1, g1, b1 = (Signal(16, name="s1"), Signal(8, name="z1"), Signal(name="l1"),
                              Signal(name="g1"), Signal(name="b1"))
        with core.If(go):
            core.d.sync += [v1.eq(self.i.valid), p1.eq(prod), a1.eq(afx), s1.eq(pl.scale),
                         z1.eq(pl.zero), l1.eq(pl.last), g1.eq(gend), b1.eq(bad_a)]
        with core.If(take):
            core.d.sync += cnt.eq(Mux(gend, 0, cnt + 1))

        # stage 2: group accumulation of w*a and a
        swa, sa = Signal(signed(ar.group_sum), name="swa"), Signal(signed(ar.act_sum), name="sa")
        gbad = Signal(name="gbad")
        v2, l2, b2 = Signal(name="v2"), Signal(name="l2"), Signal(name="b2")
        g_wa, g_a = Signal(signed(ar.group_sum), name="g_wa"), Signal(signed(ar.act_sum),
                                                                      name="g_a")
        s2, z2 = Signal(16, name="s2"), Signal(8, name="z2")
        nwa, na = swa + p1, sa + a1
        if serial:
            m.d.comb += go.eq(adv & ~(v1 & g1 & ~free))
            with core.If(go & v1):
                with core.If(g1):
                    core.d.sync += [swa.eq(0), sa.eq(0), gbad.eq(0)]
                with core.Else():
                    core.d.sync += [swa.eq(nwa), sa.eq(na), gbad.eq(gbad | b1)]
            sd = serial_dequant(deq, ar=ar, swa=nwa, sa=na, scale=s1, zero=z1,
                                bad=gbad | b1, last=l1, load=go & v1 & g1, enable=adv,
                                digit=SERIAL_DIGIT, name="sd")
            assert sd.cycles == sp.group_cycles, (sd.cycles, sp.group_cycles)
            m.d.comb += free.eq(sd.free)
            self._readout(m, deq, adv, sd.valid, sd.result, sd.nan, ar.acc_lsb)
            m.submodules.core = core
            m.submodules.dequant = deq
            return m
        with core.If(adv):
            core.d.sync += v2.eq(v1 & g1)
            with core.If(v1):
                with core.If(g1):
                    core.d.sync += [g_wa.eq(nwa), g_a.eq(na), s2.eq(s1), z2.eq(z1), l2.eq(l1),
                                 b2.eq(gbad | b1 | (s1[10:15] == 0x1F)),
                                 swa.eq(0), sa.eq(0), gbad.eq(0)]
                with core.Else():
                    core.d.sync += [swa.eq(nwa), sa.eq(na), gbad.eq(gbad | b1)]

        # stages 3-4: P = sum(w*a) - z * sum(a), then scale x P (shared builder, hw/pe/dequant)
        dq = dequant_term(deq, ar=ar, swa=g_wa, sa=g_a, scale=s2, zero=z2, enable=adv,
                          tags=(v2, l2, b2), name="dq")
        v4, l4, b4 = dq.tags
        term = dq.term

        # stage 5: exponent shift, exact accumulation, close the sequence at last
        acc, nan = Signal(signed(ar.acc), name="acc"), Signal(name="acc_nan")
        acc_next = Signal(signed(ar.acc), name="acc_next")
        deq.d.comb += acc_next.eq(acc + term)
        v5, r5, rn5 = Signal(name="v5"), Signal(signed(ar.acc), name="r5"), Signal(name="rn5")
        with deq.If(adv):
            deq.d.sync += v5.eq(v4 & l4)
            with deq.If(v4):
                with deq.If(l4):
                    deq.d.sync += [r5.eq(acc_next), rn5.eq(nan | b4), acc.eq(0), nan.eq(0)]
                with deq.Else():
                    deq.d.sync += [acc.eq(acc_next), nan.eq(nan | b4)]

        self._readout(m, deq, adv, v5, r5, rn5, ar.acc_lsb)
        m.submodules.core = core
        m.submodules.dequant = deq
        return m

    def _readout(self, m: Module, deq: Module, adv: Value, v5: Value, r5: Value, rn5: Value,
                 lsb: int) -> None:
        """Stages 6-7: one rounding of ``r5`` into the output format (normalise | round)."""
        v6 = Signal(name="v6")
        rounded = round_to_float(deq, r5, lsb=lsb, fmt=self._spec.out, nan=rn5, name="rd",
                                 stage=enabled_stage(deq, adv))
        with deq.If(adv):
            deq.d.sync += [v6.eq(v5), self.o.valid.eq(v6), self.o.payload.eq(rounded)]
