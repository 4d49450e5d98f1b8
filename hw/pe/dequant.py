"""Once-per-group dequantization of MixPE (shared by :class:`ShiftAddPE` and the PE array).

A quantization group's integer sums ``swa = sum(w*a)`` and ``sa = sum(a)`` become the exact
dequantised value ``s * (swa - z * sa)`` (``z`` int8 zero point, ``s`` float16 scale) in two
register stages, without a multiplier:

1. ``P = swa - z * sa`` (the zero-point product by shifted adds);
2. ``m_s * P`` by shifted adds over the 11-bit scale significand; the sign and exponent of the
   scale are registered beside it and applied combinationally (:attr:`DequantTerm.term`).

The result is a signed integer at ``2**ar.acc_lsb`` (``ShiftAddArith.dequant`` bits), ready to be
added exactly into a group accumulator; the NaN of a non-finite scale travels as ``bad``. This is
``mixforge.models.pe.shift_add_pe``'s per-group step, bit for bit.

:func:`fp16_scaled` is the readout of the dequantize-first baseline: ``tscale * acc`` as an exact
fixed-point value at ``2**-24``, ready for :func:`~mixforge.hw.pe.arith.round_to_float`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed

from mixforge.hw.pe.arith import shift_add_product
from mixforge.models.pe import ShiftAddArith

__all__ = ["DEQUANT_STAGES", "DequantTerm", "dequant_term", "fp16_scaled"]

#: Register stages of :func:`dequant_term` (from its inputs to a valid ``term``).
DEQUANT_STAGES = 2


@dataclass(frozen=True)
class DequantTerm:
    """Outputs of :func:`dequant_term`, all ``DEQUANT_STAGES`` cycles after the inputs.

    ``term``: ``s * P`` at ``2**acc_lsb`` (combinational from the stage-2 registers);
    ``tags``: the caller's side values, delayed alike; ``bad``: the scale was Inf/NaN.
    """

    term: Value
    tags: tuple[Value, ...]
    bad: Value


def dequant_term(m: Module, *, ar: ShiftAddArith, swa: Value, sa: Value, scale: Value,
                 zero: Value, enable: Value, tags: Sequence[Value] = (),
                 name: str = "dq") -> DequantTerm:
    """Add the two dequant stages to ``m`` (registers load when ``enable`` is high).

    Parameters
    ----------
    ar
        Datapath widths (``mixforge.models.pe.shift_add_arith``).
    swa, sa
        Signed group sums of ``w*a`` and of ``a`` (activation LSB ``2**ar.act_lsb``).
    scale, zero
        float16 scale pattern (16 bits) and int8 zero-point pattern (8 bits) of the group.
    tags
        Values to delay by the same two stages (valid, last, flags...).
    """
    p3, s3 = Signal(signed(ar.diff), name=f"{name}_p3"), Signal(16, name=f"{name}_s3")
    t3 = [Signal(t.shape(), name=f"{name}_t{i}_3") for i, t in enumerate(tags)]
    with m.If(enable):
        m.d.sync += [p3.eq(swa - shift_add_product(zero, sa)), s3.eq(scale)]
        m.d.sync += [r.eq(t) for r, t in zip(t3, tags, strict=True)]
    # stage 4: scale significand x P by shifted adds; sign and exponent beside it
    ms = s3[:10] | ((s3[10:15] != 0) << 10)
    d4 = Signal(signed(ar.diff + 12), name=f"{name}_d4")
    n4, sh4, b4 = Signal(name=f"{name}_n4"), Signal(5, name=f"{name}_sh4"), Signal(
        name=f"{name}_b4")
    t4 = [Signal(t.shape(), name=f"{name}_t{i}_4") for i, t in enumerate(tags)]
    with m.If(enable):
        m.d.sync += [n4.eq(s3[15]), d4.eq(shift_add_product(ms, p3, w_signed=False)),
                     sh4.eq(Mux(s3[10:15] == 0, 0, s3[10:15] - 1).as_unsigned()[:5]),
                     b4.eq(s3[10:15] == 0x1F)]
        m.d.sync += [r.eq(t) for r, t in zip(t4, t3, strict=True)]
    term = Signal(signed(ar.dequant), name=f"{name}_term")
    m.d.comb += term.eq(Mux(n4, -d4, d4) << sh4)
    return DequantTerm(term=term, tags=tuple(t4), bad=b4)


def fp16_scaled(m: Module, acc: Value, tscale: Value, *, name: str = "ts") -> tuple[Value, Value]:
    """``tscale * acc`` (float16 pattern x signed integer) as an exact signed value at
    ``2**-24``, and the scale's non-finite flag. Uses a ``*`` (the baseline's multiplier)."""
    e = tscale[10:15]
    sig = Cat(tscale[:10], e != 0)
    sh = Mux(e == 0, 0, e - 1).as_unsigned()[:5]
    x = Signal(signed(len(acc) + 12 + 31), name=f"{name}_scaled")
    m.d.comb += x.eq(Mux(tscale[15], -(sig * acc), sig * acc) << sh)
    return x, e == 0x1F
