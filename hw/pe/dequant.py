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

:func:`serial_dequant` is the amortised alternative (``ShiftAddSpec.dequant = "serial"``): one
multi-cycle unit does the same per-group work and the exact accumulation with narrow adders,
one zero-point bit, one scale-significand bit, one accumulator digit per cycle.

:func:`fp16_scaled` is the readout of the dequantize-first baseline: ``tscale * acc`` as an exact
fixed-point value at ``2**-24``, ready for :func:`~mixforge.hw.pe.arith.round_to_float`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

from mixforge.hw.pe.arith import shift_add_product
from mixforge.models.pe import ShiftAddArith

__all__ = ["DEQUANT_STAGES", "DequantTerm", "dequant_term", "fp16_scaled", "SerialDequant",
           "serial_dequant", "SerialScale", "serial_scale"]

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


@dataclass(frozen=True)
class SerialDequant:
    """Ports of :func:`serial_dequant`.

    ``free``: the unit can take a group at this edge (idle, or finishing its last cycle);
    ``valid`` (registered): ``result``/``nan`` hold a finished sequence (a sequence's final
    group was accumulated at the previous enabled edge); ``result``: the exact accumulator
    (``ar.acc`` bits, LSB ``2**ar.acc_lsb``); ``nan``: a non-finite scale or activation was
    seen; ``cycles``: S, the enabled edges the unit spends on one group.
    """

    free: Value
    valid: Value
    result: Value
    nan: Value
    cycles: int


def serial_dequant(m: Module, *, ar: ShiftAddArith, swa: Value, sa: Value, scale: Value,
                   zero: Value, bad: Value, last: Value, load: Value, enable: Value,
                   digit: int, zero_cycles: int = 8, scale_cycles: int = 11,
                   name: str = "sd") -> SerialDequant:
    """A multi-cycle dequantize-and-accumulate unit: per group ``acc += s * (swa - z * sa)``.

    The caller raises ``load`` (only when ``free`` and ``enable``) to hand over a closed
    group: its sums ``swa``/``sa``, float16 ``scale``, int8 ``zero``, the ``bad`` flag
    (non-finite activation in the group; a non-finite scale is detected here) and ``last``
    (the group ends the sequence). All registers load only when ``enable`` is high. The unit
    then spends ``S = zero_cycles + scale_cycles + digits`` enabled edges on it:

    1. ``zero_cycles`` (8): ``P = swa - z * sa``, one zero-point bit per cycle (a ``diff``-bit
       adder/subtractor, ``sa`` shifted left one place per cycle; the top bit adds);
    2. ``scale_cycles`` (11): ``D = m_s * P``, a right-shifting multiplier over the 11-bit
       scale significand (a ``diff + 1``-bit adder);
    3. ``digits = ceil(ar.acc / digit)``: ``acc += ±D << sh`` one ``digit``-bit digit per cycle
       (a ``digit``-bit adder with a carry flip-flop; the accumulator rotates through it and
       is back in place after a full turn). The exponent shift ``sh = digit*q + r`` costs no
       shifter: ``q`` zero digits first, then ``D``'s digits offset by ``r`` through a
       ``digit``-bit window; the scale's sign inverts the digits with carry-in 1.

    At the end of a ``last`` group ``valid`` rises and ``result`` is the accumulator itself:
    it is next written >= ``zero_cycles + scale_cycles`` enabled edges later (the next group's
    first digit cycle, which adds to 0 instead of the finished sum), so the caller's next
    enabled edge (its readout register) must capture it; no copy register is needed.
    """
    if digit < 2 or digit & (digit - 1):
        raise ValueError(f"digit must be a power of two >= 2, not {digit}")
    if zero_cycles != len(zero) or scale_cycles != 11:
        raise ValueError("zero_cycles must be the zero-point width and scale_cycles 11")
    pw = ar.diff
    digits = -(-ar.acc // digit)
    aw = digits * digit
    s_cyc = zero_cycles + scale_cycles + digits
    lg = digit.bit_length() - 1

    busy = Signal(name=f"{name}_busy")
    cnt = Signal(range(s_cyc + 1), name=f"{name}_cnt")
    final = Signal(name=f"{name}_final")
    free = Signal(name=f"{name}_free")
    m.d.comb += [final.eq(busy & (cnt == s_cyc - 1)), free.eq(~busy | final)]

    p = Signal(signed(pw), name=f"{name}_p")
    sar = Signal(signed(pw), name=f"{name}_sa")
    zr = Signal(len(zero), name=f"{name}_z")
    x = Signal(signed(pw + 12), name=f"{name}_x")   # [hi | lo]: the multiplier, then D
    prev = Signal(digit, name=f"{name}_prev")
    acc = Signal(aw, name=f"{name}_acc")
    carry, neg = Signal(name=f"{name}_carry"), Signal(name=f"{name}_neg")
    q = Signal(max(5 - lg, 1), name=f"{name}_q")
    r = Signal(lg, name=f"{name}_r")
    lst, nan = Signal(name=f"{name}_last"), Signal(name=f"{name}_nan")
    fresh = Signal(name=f"{name}_fresh")  # acc holds a finished sequence: add to 0 instead
    valid, rnan = Signal(name=f"{name}_valid"), Signal(name=f"{name}_res_nan")

    # the group's scale: sign, significand (into the multiplier), exponent shift sh = q|r
    e = scale[10:15]
    ms = Cat(scale[:10], e != 0)
    sh = Mux(e == 0, 0, e - 1).as_unsigned()[:5]
    # phase 1: P -/+= z_j * (sa << j)
    in_z = busy & (cnt < zero_cycles)
    sub = cnt != zero_cycles - 1
    addend = Mux(zr[0], sar, 0)
    p_next = (Cat(sub, p) + Cat(sub, Mux(sub, ~addend, addend)))[1:pw + 1]
    # phase 2: hi += lo[0] ? P : 0, then shift [hi | lo] right
    in_m = busy & (cnt >= zero_cycles) & (cnt < zero_cycles + scale_cycles)
    hi = x[11:].as_signed()
    hn = Signal(signed(pw + 1), name=f"{name}_hn")
    m.d.comb += hn.eq(hi + Mux(x[0], p, 0))
    # phase 3: one accumulator digit per cycle
    in_a = busy & (cnt >= zero_cycles + scale_cycles)
    skip = (cnt - (zero_cycles + scale_cycles)) < q   # the q zero digits below D << r
    win = Signal(digit, name=f"{name}_win")
    m.d.comb += win.eq(Mux(skip, 0, (Cat(prev, x[:digit]) << r)[digit:2 * digit]))
    dsum = Signal(digit + 2, name=f"{name}_dsum")
    m.d.comb += dsum.eq(Cat(carry, Mux(fresh, 0, acc[:digit])) + Cat(carry, Mux(neg, ~win, win)))
    acc_rot = Cat(acc[digit:], dsum[1:digit + 1])

    with m.If(enable):
        m.d.sync += valid.eq(final & lst)
        with m.If(final & lst):
            m.d.sync += rnan.eq(nan)
        with m.If(in_z):
            m.d.sync += [p.eq(p_next), sar.eq(sar << 1), zr.eq(zr >> 1)]
        with m.If(in_m):
            m.d.sync += x.eq(Cat(x[1:11], hn, hn[-1]))
        with m.If(in_a):
            m.d.sync += [acc.eq(acc_rot), carry.eq(dsum[digit + 1])]
            with m.If(~skip):
                m.d.sync += [x.eq(x >> digit), prev.eq(x[:digit])]
        with m.If(final):
            m.d.sync += fresh.eq(lst)
        with m.If(final & lst):
            m.d.sync += nan.eq(0)
        with m.If(busy):
            m.d.sync += cnt.eq(cnt + 1)
        with m.If(final):
            m.d.sync += busy.eq(0)
        with m.If(load):  # hand-over (may coincide with the final edge of the previous group)
            m.d.sync += [busy.eq(1), cnt.eq(0), p.eq(swa), sar.eq(sa), zr.eq(zero),
                         x.eq(Cat(ms, Const(0, pw + 1))), prev.eq(0),
                         carry.eq(scale[15]), neg.eq(scale[15]), q.eq(sh >> lg),
                         r.eq(sh[:lg]), lst.eq(last),
                         nan.eq(Mux(final & lst, 0, nan) | bad | (e == 0x1F))]
    return SerialDequant(free=free, valid=valid, result=acc[:ar.acc].as_signed(), nan=rnan,
                         cycles=s_cyc)


@dataclass(frozen=True)
class SerialScale:
    """Ports of :func:`serial_scale`: ``free`` (can load at this edge), ``valid`` (registered:
    ``value``/``tscale`` hold a finished result until the next load's digit phase),
    ``value`` (signed ``tscale * acc`` at ``2**-24``, ``out_bits`` bits), ``tscale`` (the
    float16 pattern loaded with it), ``cycles`` (S: edges from one load to the next)."""

    free: Value
    valid: Value
    value: Value
    tscale: Value
    cycles: int


def serial_scale(m: Module, *, acc: Value, tscale: Value, load: Value, enable: Value,
                 out_bits: int, digit: int, name: str = "ss") -> SerialScale:
    """``tscale * acc`` (float16 pattern x signed integer) as an exact signed value at
    ``2**-24``, amortised over many cycles: the dequantize-first baseline's once-per-output
    tensor-scale multiply, built like :func:`serial_dequant` (narrow adders only).

    ``load`` (only when ``free`` and ``enable``) takes ``acc`` and ``tscale``; then

    1. 11 enabled edges: ``D = m_s * acc``, a right-shifting shift-and-add multiplier over the
       scale significand (a ``len(acc) + 1``-bit adder);
    2. ``ceil(out_bits / digit)`` edges: ``value = ±D << sh`` written one ``digit``-bit digit
       per cycle into a rotating register (``q`` zero digits, ``D``'s digits through an
       ``r``-offset window, inverted with carry-in 1 for a negative scale: an incrementer, no
       shifter or negator of the full width).

    ``valid`` rises after the last digit; ``value`` is stable until the next load's digit
    phase (11 enabled edges after that load at the earliest), and the next load may come at
    the final edge itself, so ``cycles`` = 11 + digits.
    """
    if digit < 2 or digit & (digit - 1):
        raise ValueError(f"digit must be a power of two >= 2, not {digit}")
    w = len(acc)
    digits = -(-out_bits // digit)
    s_cyc = 11 + digits
    lg = digit.bit_length() - 1
    x = Signal(signed(w + 12), name=f"{name}_x")   # [hi (w + 1) | lo (11)], then D
    a = Signal(signed(w), name=f"{name}_acc")
    ts = Signal(16, name=f"{name}_ts")
    y = Signal(digits * digit, name=f"{name}_y")
    prev = Signal(digit, name=f"{name}_prev")
    carry, neg = Signal(name=f"{name}_carry"), Signal(name=f"{name}_neg")
    q, r = Signal(max(5 - lg, 1), name=f"{name}_q"), Signal(lg, name=f"{name}_r")
    busy, valid = Signal(name=f"{name}_busy"), Signal(name=f"{name}_valid")
    cnt = Signal(range(s_cyc + 1), name=f"{name}_cnt")
    final = Signal(name=f"{name}_final")
    m.d.comb += final.eq(busy & (cnt == s_cyc - 1))
    hn = Signal(signed(w + 1), name=f"{name}_hn")
    m.d.comb += hn.eq(x[11:].as_signed() + Mux(x[0], a, 0))
    in_a = busy & (cnt >= 11)
    skip = (cnt - 11) < q
    win = Signal(digit, name=f"{name}_win")
    m.d.comb += win.eq(Mux(skip, 0, (Cat(prev, x[:digit]) << r)[digit:2 * digit]))
    dsum = Signal(digit + 2, name=f"{name}_dsum")
    m.d.comb += dsum.eq(Cat(carry, Const(0, digit)) + Cat(carry, Mux(neg, ~win, win)))
    e = tscale[10:15]
    sh = Mux(e == 0, 0, e - 1).as_unsigned()[:5]
    with m.If(enable):
        m.d.sync += valid.eq(final)
        with m.If(busy):
            m.d.sync += cnt.eq(cnt + 1)
        with m.If(busy & ~in_a):
            m.d.sync += x.eq(Cat(x[1:11], hn, hn[-1]))
        with m.If(in_a):
            m.d.sync += [y.eq(Cat(y[digit:], dsum[1:digit + 1])), carry.eq(dsum[digit + 1])]
            with m.If(~skip):
                m.d.sync += [x.eq(x >> digit), prev.eq(x[:digit])]
        with m.If(final):
            m.d.sync += busy.eq(0)
        with m.If(load):
            m.d.sync += [busy.eq(1), cnt.eq(0), a.eq(acc), ts.eq(tscale), prev.eq(0),
                         x.eq(Cat(tscale[:10], e != 0, Const(0, w + 1))),
                         carry.eq(tscale[15]), neg.eq(tscale[15]), q.eq(sh >> lg),
                         r.eq(sh[:lg])]
    return SerialScale(free=~busy | final, valid=valid, value=y[:out_bits].as_signed(),
                       tscale=ts, cycles=s_cyc)
