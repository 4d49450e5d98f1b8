"""Dequantize-first baselines: what an accelerator without mpGEMM support builds.

* :class:`DequantFirstPE` (W(k)A8): every k-bit weight becomes INT8 in the main loop,
  ``w8 = sat_int8((w - z) * sm)``, then a full INT8 x INT8 multiplier and an int32 accumulator;
  one float16 tensor scale at readout. Function: ``mixforge.models.pe.dequant_first_pe``.
* :class:`FP16MacPE` (W(k)A16): every weight becomes FP16, ``wf = fp16(s * (w - z))``, then an
  FP16 x FP16 multiplier into an exact accumulator. Function: ``models.pe.fp16_mac_pe``.

Both use ``*`` (Yosys ``$mul``) on purpose: they are the multiplier designs the shift-and-add PE
is compared with. Stream ports and stall behaviour as :class:`~mixforge.hw.pe.ShiftAddPE`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data

from mixforge.hw.pe.arith import enabled_stage, round_to_float
from mixforge.hw.pe.dequant import serial_scale
from mixforge.hw.pe.specs import SERIAL_DIGIT, DequantFirstSpec, FP16MacSpec
from mixforge.hw.pe.stream import StreamPE
from mixforge.models.pe import DQ_ACC_BITS, FP16MAC_ACC_BITS, FP16MAC_ACC_LSB

__all__ = ["DequantFirstPE", "FP16MacPE", "dequant_first_layout", "fp16_mac_layout",
           "fp16_nonfinite", "fp16_scaled_weight", "fp16_product", "fp16_signed_term"]


def dequant_first_layout(spec: DequantFirstSpec) -> data.StructLayout:
    """Payload: weight, int8 activation, uint8 scale multiplier, int8 zero, fp16 tensor scale."""
    return data.StructLayout({"w": spec.k, "a": 8, "sm": 8, "zero": 8, "tscale": 16, "last": 1})


def fp16_mac_layout(spec: FP16MacSpec) -> data.StructLayout:
    """Payload: weight, fp16 activation, fp16 group scale, int8 zero point, last."""
    return data.StructLayout({"w": spec.k, "a": 16, "scale": 16, "zero": 8, "last": 1})


def _fp16_sig_shift(x: Value) -> tuple[Value, Value]:
    """FP16 pattern -> (11-bit significand, left shift to the 2**-24 grid)."""
    e = x[10:15]
    return Cat(x[:10], e != 0), Mux(e == 0, 0, e - 1).as_unsigned()[:5]


def fp16_nonfinite(x: Value) -> Value:
    """An FP16 pattern is Inf or NaN."""
    return x[10:15] == 0x1F


def fp16_scaled_weight(w: Value, zero: Value, scale: Value) -> Value:
    """``s * (w - z)`` exactly on the 2**-24 grid (signed; ``w`` k-bit two's complement, ``z``
    int8, ``s`` float16): the FP16 MAC's stage 1, before the rounding to float16."""
    s_sig, s_sh = _fp16_sig_shift(scale)
    d = w.as_signed() - zero.as_signed()
    x_mag = (s_sig * d) << s_sh
    return Mux(scale[15], -x_mag, x_mag)


def fp16_product(wf: Value, a: Value) -> tuple[Value, Value, Value]:
    """FP16 x FP16 ``*``: (22-bit significand product, left shift to the 2**-48 grid, sign)."""
    w_sig, w_sh = _fp16_sig_shift(wf)
    a_sig, a_sh = _fp16_sig_shift(a)
    return w_sig * a_sig, w_sh + a_sh, wf[15] ^ a[15]


def fp16_signed_term(p: Value, sh: Value, neg: Value) -> Value:
    """The exact signed product ``±(p << sh)`` (LSB 2**-48) to add into the accumulator."""
    return Mux(neg, -(p << sh), p << sh)


def _split(core: Module, readout: Module) -> Module:
    """Per-product datapath and readout as two Verilog modules (area reported per module)."""
    top = Module()
    top.submodules.core = core
    top.submodules.readout = readout
    return top


class DequantFirstPE(StreamPE):
    """W(k)A8 dequantize-first PE with INT8 x INT8 multiplier (parameters: ``k``, ``out``,
    ``readout``: the tensor-scale multiply as a ``*`` or serial shift-and-add, see
    :class:`~mixforge.hw.pe.specs.DequantFirstSpec`)."""

    def __init__(self, *, spec: DequantFirstSpec | None = None, **params: object):
        sp = spec if spec is not None else DequantFirstSpec(**params)
        super().__init__(sp, dequant_first_layout(sp), sp.out)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        sp: DequantFirstSpec = self._spec
        serial = sp.readout == "serial"
        if serial:  # a busy readout unit holds stages 1-3 (and i.ready) at a sequence's end
            adv, go, free = Signal(name="adv"), Signal(name="go"), Signal(name="ro_free")
            m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(go)]
        else:
            adv = go = self._adv(m)
        pl = self.i.payload
        v = [Signal(name=f"v{i}") for i in range(5)]
        last = [Signal(name=f"last{i}") for i in range(4)]
        ts = [Signal(16, name=f"ts{i}") for i in range(4)]
        d1, sm1, a1 = Signal(signed(10), name="d1"), Signal(8, name="sm1"), Signal(signed(8),
                                                                                  name="a1")
        w8, a2 = Signal(signed(8), name="w8"), Signal(signed(8), name="a2")
        p3 = Signal(signed(16), name="p3")
        acc, r4 = Signal(signed(DQ_ACC_BITS), name="acc"), Signal(signed(DQ_ACC_BITS), name="r4")
        t = Signal(signed(18), name="t")
        m.d.comb += t.eq(d1 * sm1)
        if serial:
            m.d.comb += go.eq(adv & ~(v[2] & last[2] & ~free))
        with m.If(go):
            m.d.sync += [v[0].eq(self.i.valid), d1.eq(pl.w.as_signed() - pl.zero.as_signed()),
                         sm1.eq(pl.sm), a1.eq(pl.a), last[0].eq(pl.last), ts[0].eq(pl.tscale),
                         v[1].eq(v[0]), w8.eq(Mux(t > 127, 127, Mux(t < -128, -128, t))),
                         a2.eq(a1), last[1].eq(last[0]), ts[1].eq(ts[0]),
                         v[2].eq(v[1]), p3.eq(w8 * a2), last[2].eq(last[1]), ts[2].eq(ts[1])]
            if not serial:
                m.d.sync += v[3].eq(v[2] & last[2])
            with m.If(v[2]):
                m.d.sync += [ts[3].eq(ts[2])]
                with m.If(last[2]):
                    m.d.sync += [r4.eq(acc + p3), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(acc + p3)
        core, m = m, Module()  # readout (tensor scale + rounding) as its own Verilog module
        x = Signal(signed(DQ_ACC_BITS + 12 + 31), name="scaled")
        if serial:  # tscale x acc by shifted adds (one bit, then one digit per cycle)
            sc = serial_scale(m, acc=(acc + p3)[:DQ_ACC_BITS].as_signed(), tscale=ts[2],
                              load=go & v[2] & last[2], enable=adv, out_bits=len(x),
                              digit=SERIAL_DIGIT, name="ro")
            assert sc.cycles == sp.group_cycles, (sc.cycles, sp.group_cycles)
            m.d.comb += [free.eq(sc.free), v[3].eq(sc.valid), x.eq(sc.value)]
            ts3 = sc.tscale
        else:
            sig, sh = _fp16_sig_shift(ts[3])
            ts3 = ts[3]
            m.d.comb += x.eq(Mux(ts3[15], -(sig * r4), sig * r4) << sh)
        rounded = round_to_float(m, x, lsb=-24, fmt=sp.out, nan=ts3[10:15] == 0x1F, name="rd",
                                 stage=enabled_stage(m, adv))
        with m.If(adv):
            m.d.sync += [v[4].eq(v[3]), self.o.valid.eq(v[4]), self.o.payload.eq(rounded)]
        return _split(core, m)


class FP16MacPE(StreamPE):
    """W(k)A16 dequantize-first FP16 x FP16 MAC (parameters: ``k``, ``out``)."""

    def __init__(self, *, spec: FP16MacSpec | None = None, **params: object):
        sp = spec if spec is not None else FP16MacSpec(**params)
        super().__init__(sp, fp16_mac_layout(sp), sp.out)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        sp: FP16MacSpec = self._spec
        adv = self._adv(m)
        pl = self.i.payload
        v = [Signal(name=f"v{i}") for i in range(5)]
        last = [Signal(name=f"last{i}") for i in range(3)]
        bad = [Signal(name=f"bad{i}") for i in range(3)]
        # stage 1: s * (w - z) exactly, on the 2**-24 grid
        x1, a1 = Signal(signed(52), name="x1"), Signal(16, name="a1")
        # stage 2: round to fp16 (the dequantised weight)
        wf = round_to_float(m, x1, lsb=-24, fmt="float16", name="wq")
        wf2, a2 = Signal(16, name="wf2"), Signal(16, name="a2")
        # stage 3: fp16 x fp16 product and exponent sum
        prod, shift, neg = fp16_product(wf2, a2)
        p3, sh3, n3 = Signal(22, name="p3"), Signal(6, name="sh3"), Signal(name="n3")
        # stage 4: exact accumulation
        acc = Signal(signed(FP16MAC_ACC_BITS), name="acc")
        r4 = Signal(signed(FP16MAC_ACC_BITS), name="r4")
        nan, rn4 = Signal(name="acc_nan"), Signal(name="rn4")
        term = Signal(signed(FP16MAC_ACC_BITS), name="term")
        m.d.comb += term.eq(fp16_signed_term(p3, sh3, n3))
        with m.If(adv):
            m.d.sync += [v[0].eq(self.i.valid),
                         x1.eq(fp16_scaled_weight(pl.w, pl.zero, pl.scale)),
                         a1.eq(pl.a), last[0].eq(pl.last), bad[0].eq(fp16_nonfinite(pl.scale)),
                         v[1].eq(v[0]), wf2.eq(wf), a2.eq(a1), last[1].eq(last[0]),
                         bad[1].eq(bad[0] | fp16_nonfinite(a1)),
                         v[2].eq(v[1]), p3.eq(prod), sh3.eq(shift),
                         n3.eq(neg), last[2].eq(last[1]),
                         bad[2].eq(bad[1] | fp16_nonfinite(wf2)),
                         v[3].eq(v[2] & last[2])]
            with m.If(v[2]):
                with m.If(last[2]):
                    m.d.sync += [r4.eq(acc + term), rn4.eq(nan | bad[2]), acc.eq(0), nan.eq(0)]
                with m.Else():
                    m.d.sync += [acc.eq(acc + term), nan.eq(nan | bad[2])]
        core, m = m, Module()  # readout (rounding) as its own Verilog module
        rounded = round_to_float(m, r4, lsb=FP16MAC_ACC_LSB, fmt=sp.out, nan=rn4, name="rd",
                                 stage=enabled_stage(m, adv))
        with m.If(adv):
            m.d.sync += [v[4].eq(v[3]), self.o.valid.eq(v[4]), self.o.payload.eq(rounded)]
        return _split(core, m)
