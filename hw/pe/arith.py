"""Reusable combinational arithmetic builders for PE datapaths (no multipliers).

Each builder takes Amaranth values and returns Amaranth values (expressions, or signals it adds
to ``m.d.comb`` of the given module), so PE-array and PIM cells can assemble their own pipelines
from the same arithmetic the PEs here are verified with. None of them emits a ``$mul`` cell.

* :func:`shift_add_product` - ``w * a`` as a sum of shifted copies of ``a`` (two's complement
  or unsigned ``w``), the MixPE multiplication; :func:`ternary_product` for {-1, 0, +1} codes.
* :func:`leading_one` - position of the most significant set bit (log-depth tree).
* :func:`fp16_to_fixed` - FP16 pattern -> exact signed fixed-point at 2**-24 (+ non-finite flag).
* :func:`decode_posit`, :func:`decode_fp4` - pattern -> :class:`Unpacked` (sign, exponent of
  the significand LSB, significand with hidden bit, NaR flag): value = ±sig * 2**exp;
  :func:`decode_posit_es01` - one decoder for posit(n, 0) / posit(n, 1) chosen at run time (and
  shorter posits left-aligned in n bits).
* :func:`round_to_float`, :func:`round_to_posit` - signed fixed-point ``x * 2**lsb`` rounded
  once into an IEEE float / a posit, exactly as ``mixforge.models.pe.round_fixed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

__all__ = ["Stage", "Unpacked", "adder_tree", "enabled_stage", "shift_add_product",
           "ternary_product", "leading_one", "fp16_to_fixed", "decode_posit", "decode_fp4",
           "decode_posit_es01", "round_to_posit_lean",
           "round_to_float", "round_to_posit", "FLOAT_FIELDS"]

#: (exponent bits, mantissa bits, bias) of the IEEE output formats.
FLOAT_FIELDS = {"float16": (5, 10, 15), "float32": (8, 23, 127)}


def shift_add_product(w: Value, a: Value, *, w_signed: bool = True) -> Value:
    """``w * a`` as ``sum_i w[i] * (a << i)``, the top term subtracted when ``w_signed``.

    ``a`` keeps its own signedness. The result is a signed expression wide enough for the
    exact product (``len(w) + len(a) + 1`` bits).
    """
    width = len(w) + len(a) + 1
    if not a.shape().signed:
        a = Cat(a, Const(0, 1)).as_signed()
    terms: list[Value] = []
    for i in range(len(w)):
        term = Mux(w[i], a, 0) << i
        terms.append(-term if (w_signed and i == len(w) - 1) else term)
    return adder_tree(terms, width)


def adder_tree(terms: list[Value], width: int) -> Value:
    """Sum of ``terms`` as a balanced tree of two-input adders, kept to ``width`` signed bits
    (modular: exact whenever the true sum fits)."""
    level = list(terms) or [Const(0, signed(width))]
    while len(level) > 1:
        nxt = [(level[i] + level[i + 1])[:width].as_signed()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def ternary_product(w: Value, a: Value) -> Value:
    """``w * a`` for 2-bit ternary codes (01 -> +a, 11 -> -a, 00/10 -> 0): a mux, no adder tree."""
    return Mux(w[0], Mux(w[1], -a, a), 0)


def leading_one(x: Value) -> tuple[Value, Value]:
    """``(any, pos)``: whether ``x`` has a set bit, and the index of its highest set bit."""
    bits = len(x)
    if bits == 1:
        return x[0], Const(0, 1)
    half = 1 << ((bits - 1).bit_length() - 1)
    hi_any, hi_pos = leading_one(x[half:])
    lo_any, lo_pos = leading_one(x[:half])
    pw = (bits - 1).bit_length()
    return hi_any | lo_any, Mux(hi_any, hi_pos + half, lo_pos)[:pw]


def fp16_to_fixed(m: Module, bits: Value, *, name: str = "fx") -> tuple[Signal, Signal]:
    """FP16 pattern -> (exact value as signed 41-bit integer at 2**-24, non-finite flag)."""
    e, f, s = bits[10:15], bits[:10], bits[15]
    sig = Cat(f, e != 0)
    mag = Signal(40, name=f"{name}_mag")
    m.d.comb += mag.eq(sig << Mux(e == 0, 0, e - 1).as_unsigned()[:5])
    fx = Signal(signed(41), name=name)
    nf = Signal(name=f"{name}_nonfinite")
    m.d.comb += [fx.eq(Mux(s, -mag, mag)), nf.eq(e == 0x1F)]
    return fx, nf


@dataclass(frozen=True)
class Unpacked:
    """A decoded operand: value = (-1)**sign * sig * 2**exp; ``nar`` for NaR. Zero: sig == 0."""

    sign: Value
    exp: Value
    sig: Value
    nar: Value


def decode_fp4(bits: Value) -> Unpacked:
    """OCP E2M1 pattern (4 bits) -> ``Unpacked`` with a 2-bit significand, exp in -1..1."""
    e, f = bits[1:3], bits[0]
    exp = Mux(e == 0, Const(-1, signed(4)), (Cat(e, Const(0, 2)).as_signed() - 2))
    return Unpacked(sign=bits[3], exp=exp, sig=Cat(f, e != 0), nar=Const(0, 1))


def _posit_regime(m: Module, bits: Value, *, n: int, name: str) -> tuple[Value, Signal, Signal]:
    """The regime of an ``n``-bit posit pattern: its sign, the regime value ``k`` and ``rest``
    (``n - 1`` bits: the magnitude's bits after the regime and its terminator, left-aligned;
    exponent then fraction)."""
    sign = bits[n - 1]
    mag = Signal(n, name=f"{name}_abs")
    m.d.comb += mag.eq(Mux(sign, -bits, bits))
    rem = mag[: n - 1]
    first = rem[n - 2]
    inv = Signal(n - 1, name=f"{name}_inv")
    m.d.comb += inv.eq(Mux(first, ~rem, rem))
    any_, pos = leading_one(inv)
    run = Signal(range(n), name=f"{name}_run")
    m.d.comb += run.eq(Mux(any_, n - 2 - pos, n - 1))
    k = Signal(signed(len(run) + 1), name=f"{name}_k")
    m.d.comb += k.eq(Mux(first, run - 1, -run))
    rest = Signal(n - 1, name=f"{name}_rest")
    m.d.comb += rest.eq((rem << (run + 1).as_unsigned())[: n - 1])
    return sign, k, rest


def _posit_unpacked(m: Module, bits: Value, *, n: int, sign: Value, scale: Value,
                    frac: Value | None, frac_bits: int, name: str) -> Unpacked:
    """``Unpacked`` of a decoded posit: significand ``Cat(frac, hidden)`` (hidden 0 for zero
    and NaR), ``exp = scale - frac_bits``."""
    is_zero = bits == 0
    is_nar = bits == (1 << (n - 1))
    hidden = ~(is_zero | is_nar)
    sig = Cat(frac, hidden) if frac is not None else hidden
    exp = Signal(signed(len(scale) + 1), name=f"{name}_exp")
    m.d.comb += exp.eq(scale - frac_bits)
    return Unpacked(sign=sign, exp=exp, sig=sig, nar=is_nar)


def decode_posit(m: Module, bits: Value, *, n: int, es: int, name: str = "pd") -> Unpacked:
    """posit(n, es) pattern -> ``Unpacked``; the significand has ``n - 2 - es`` bits.

    The fraction is left-aligned in ``n - 3 - es`` bits, so ``exp = scale - (n - 3 - es)``.
    Zero decodes to ``sig == 0``; NaR sets ``nar`` (and ``sig == 0``).
    """
    fw = n - 3 - es
    sign, k, rest = _posit_regime(m, bits, n=n, name=name)
    e = rest[n - 1 - es: n - 1] if es else Const(0, 1)
    scale = Signal(signed(len(k) + es + 1), name=f"{name}_scale")
    m.d.comb += scale.eq((k << es) + e if es else k)
    frac = rest[n - 1 - es - fw: n - 1 - es] if fw else None
    return _posit_unpacked(m, bits, n=n, sign=sign, scale=scale, frac=frac, frac_bits=fw,
                           name=name)


#: A pipeline-register hook: ``stage(value, name) -> registered copy`` (see the rounders).
Stage = Callable[[Value, str], Value]


def enabled_stage(m: Module, enable: Value) -> Stage:
    """A :data:`Stage` hook: a ``sync`` register of ``m`` that loads when ``enable`` is high."""

    def stage(v: Value, name: str) -> Value:
        r = Signal(v.shape(), name=name)
        with m.If(enable):
            m.d.sync += r.eq(v)
        return r

    return stage


def _abs_lead(m: Module, x: Value, name: str, nan: Value | None,
              stage: Stage | None) -> tuple[Value, Value, Value, Value, Value]:
    w = len(x)
    sign = x[w - 1]
    mag = Signal(w, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(sign, -x, x))
    any_, pos = leading_one(mag)
    p = Signal(range(w), name=f"{name}_p")
    m.d.comb += p.eq(pos)
    nan_v: Value = nan if nan is not None else Const(0, 1)
    if stage is None:
        return mag, p, any_, sign, nan_v
    return (stage(mag, f"{name}_mag_r"), stage(p, f"{name}_p_r"), stage(any_, f"{name}_nz_r"),
            stage(sign, f"{name}_sign_r"), stage(nan_v, f"{name}_nan_r"))


def round_to_float(m: Module, x: Value, *, lsb: int, fmt: str, nan: Value | None = None,
                   name: str = "rf", stage: Stage | None = None) -> Value:
    """Signed ``x * 2**lsb`` -> IEEE ``fmt`` pattern: RNE, subnormals, overflow to ±inf, 0 -> +0.

    ``stage`` (optional) registers the magnitude / leading-one position between the
    normalisation half and the rounding half (one more cycle of latency, shorter paths).
    """
    eb, mb, bias = FLOAT_FIELDS[fmt]
    w = len(x)
    mag, p, nz, sign, nan = _abs_lead(m, x, name, nan, stage)
    emin = 1 - bias
    e = Signal(signed(max(w, abs(lsb) + 1, abs(emin) + 1).bit_length() + 3), name=f"{name}_e")
    m.d.comb += e.eq(Mux(p + lsb > emin, p + lsb, emin))
    sh = Signal(signed(len(e) + 2), name=f"{name}_sh")  # right shift of mag to the quantum
    m.d.comb += sh.eq(e - mb - lsb)
    mag2 = Cat(Const(0, 1), mag)  # one guard position below the LSB
    rg = Signal(mb + 3, name=f"{name}_rg")
    sticky = Signal(name=f"{name}_sticky")
    shr = sh.as_unsigned()[: max(w + 2, 2).bit_length() + 1]
    with m.If(sh >= 0):
        m.d.comb += [rg.eq(mag2 >> shr),
                     sticky.eq((mag2 & ((Const(1, w + 2) << shr) - 1)[: w + 1]) != 0)]
    with m.Else():
        m.d.comb += [rg.eq((mag2 << (-sh).as_unsigned()[: len(sh)])[: mb + 3]), sticky.eq(0)]
    r = rg[1:]
    up = rg[0] & (sticky | r[0])
    rr = Signal(mb + 3, name=f"{name}_rr")
    m.d.comb += rr.eq(r + up)
    carry = rr[mb + 1]
    be = Signal(signed(len(e) + 2), name=f"{name}_be")
    m.d.comb += be.eq(Mux(carry | rr[mb], e + bias + carry, 0))
    man = Mux(carry, 0, rr[:mb])
    out = Signal(1 + eb + mb, name=f"{name}_out")
    inf = Cat(Const(0, mb), Const((1 << eb) - 1, eb), sign)
    with m.If(nan):
        m.d.comb += out.eq(Cat(Const(0, mb - 1), Const(1, 1), Const((1 << eb) - 1, eb), 0))
    with m.Elif(~nz):
        m.d.comb += out.eq(0)
    with m.Elif(be >= (1 << eb) - 1):
        m.d.comb += out.eq(inf)
    with m.Else():
        m.d.comb += out.eq(Cat(man, be[:eb], sign))
    return out


def _posit_pattern(m: Module, *, name: str, n: int, es: int, sc: Value, k: Value,
                   tail: Value, extra_sticky: Value, nz: Value, sign: Value, nan: Value
                   ) -> Signal:
    """Assemble and round a posit(n, es) pattern: scale ``sc`` (regime ``k = sc >> es``),
    ``tail`` = the fraction bits below the leading one (then the exponent bits, MSB first),
    ``extra_sticky`` = OR of any bits dropped below ``tail``; ``nz``/``sign``/``nan`` of the
    value. Shared by :func:`round_to_posit` and :func:`round_to_posit_lean`."""
    maxsc = (n - 2) << es
    tw = len(tail)
    r = n - 1
    kk = Signal(range(n + 1), name=f"{name}_kk")  # ones in the regime (k >= 0) or zeros (k < 0)
    m.d.comb += kk.eq(Mux(k >= 0, k + 1, -k)[: len(kk)])
    rlen = Signal(range(n + 2), name=f"{name}_rlen")
    m.d.comb += rlen.eq(kk + 1)
    field = Signal(r, name=f"{name}_regime")
    ones = Const((1 << r) - 1, r)
    lone = (Const(1, r + 1) << (r - rlen).as_unsigned()[: len(rlen)])[:r]
    m.d.comb += field.eq(Mux(k >= 0, ~(ones >> kk)[:r], lone))
    full = Signal(r + tw, name=f"{name}_full")
    m.d.comb += full.eq(Cat(Const(0, tw), field) | ((tail << r) >> rlen))
    pat = full[tw:]
    guard = full[tw - 1]
    sticky = (full[: tw - 1] != 0) | extra_sticky
    rounded = Signal(r, name=f"{name}_pat")
    m.d.comb += rounded.eq(pat + (guard & (sticky | pat[0])))
    mag_pat = Signal(r, name=f"{name}_mpat")
    with m.If(sc >= maxsc):
        m.d.comb += mag_pat.eq((1 << r) - 1)
    with m.Elif(sc < -maxsc):
        m.d.comb += mag_pat.eq(1)
    with m.Else():
        m.d.comb += mag_pat.eq(rounded)
    out = Signal(n, name=f"{name}_out")
    with m.If(nan):
        m.d.comb += out.eq(1 << (n - 1))
    with m.Elif(~nz):
        m.d.comb += out.eq(0)
    with m.Else():
        m.d.comb += out.eq(Mux(sign, -Cat(mag_pat, Const(0, 1)), Cat(mag_pat, Const(0, 1))))
    return out


def round_to_posit(m: Module, x: Value, *, lsb: int, n: int, es: int, nan: Value | None = None,
                   name: str = "rp", stage: Stage | None = None) -> Value:
    """Signed ``x * 2**lsb`` -> posit(n, es) pattern, Posit Standard rounding (see models/pe).

    ``stage``: as in :func:`round_to_float`.
    """
    w = len(x)
    mag, p, nz, sign, nan = _abs_lead(m, x, name, nan, stage)
    sc = Signal(signed(max(w, abs(lsb)).bit_length() + 3), name=f"{name}_sc")
    m.d.comb += sc.eq(p + lsb)
    k = Signal(signed(len(sc)), name=f"{name}_k")
    m.d.comb += k.eq(sc >> es)
    norm = Signal(w, name=f"{name}_norm")  # leading one at bit w-1
    m.d.comb += norm.eq(mag << (w - 1 - p).as_unsigned()[: len(p)])
    tail = Cat(norm[: w - 1], sc[:es]) if es else norm[: w - 1]
    return _posit_pattern(m, name=name, n=n, es=es, sc=sc, k=k, tail=tail,
                          extra_sticky=Const(0, 1), nz=nz, sign=sign, nan=nan)


def decode_posit_es01(m: Module, bits: Value, *, es: Value, frac_bits: int,
                      name: str = "pv") -> Unpacked:
    """Run-time configurable posit decoder: ``bits`` (n bits) as posit(n, es), ``es`` in {0, 1}
    chosen by the 1-bit value ``es``; one regime/exponent/fraction path for both.

    A shorter posit(n', es) left-aligned in ``n`` bits (low bits zero) decodes to the same value,
    so one instance serves e.g. posit(4,1), posit(8,0) and posit(16,1). The significand has
    ``frac_bits + 1`` bits (``frac_bits <= n - 3``; the top ``frac_bits`` fraction bits are
    kept, exact whenever the pattern has no more fraction bits than that) and
    ``exp = scale - frac_bits``. Zero decodes to ``sig == 0``; NaR sets ``nar``.
    """
    n = len(bits)
    if not 0 <= frac_bits <= n - 3:
        raise ValueError(f"frac_bits must be in 0..{n - 3}, not {frac_bits}")
    # the regime (run + terminator) takes >= 2 bits, so rest[0:2] is always zero
    sign, k, rest = _posit_regime(m, bits, n=n, name=name)
    scale = Signal(signed(len(k) + 2), name=f"{name}_scale")
    m.d.comb += scale.eq(Mux(es, (k << 1) + rest[n - 2], k))
    frac = Signal(frac_bits, name=f"{name}_frac") if frac_bits else None
    if frac is not None:
        m.d.comb += frac.eq(Mux(es, rest[n - 2 - frac_bits: n - 2],
                                rest[n - 1 - frac_bits: n - 1]))
    return _posit_unpacked(m, bits, n=n, sign=sign, scale=scale, frac=frac,
                           frac_bits=frac_bits, name=name)


def round_to_posit_lean(m: Module, x: Value, *, lsb: int, n: int, es: int,
                        nan: Value | None = None, name: str = "rl",
                        stage: Stage | None = None) -> Value:
    """:func:`round_to_posit` with the same function (bit for bit) and less logic for wide
    ``x``: only the ``n - 1 - es`` fraction bits below the leading one that can reach the
    pattern are normalised (a pruned shifter), the sticky bit of everything below them is a
    prefix OR picked by the leading-one position, and the regime/fraction assembly shifts
    ``2n`` bits instead of ``len(x) + n``.
    """
    w = len(x)
    mag, p, nz, sign, nan = _abs_lead(m, x, name, nan, stage)
    f = n - 1 - es  # fraction bits that can reach the pattern or the guard bit
    sc = Signal(signed(max(w, abs(lsb)).bit_length() + 3), name=f"{name}_sc")
    m.d.comb += sc.eq(p + lsb)
    k = Signal(signed(len(sc)), name=f"{name}_k")
    m.d.comb += k.eq(sc >> es)
    # the f bits below the leading one (zeros below bit 0): a shifter with f outputs
    ext = Cat(Const(0, f), mag)  # bit i of mag at i + f
    top = Signal(f, name=f"{name}_ftop")
    m.d.comb += top.eq((ext >> p)[:f])
    # sticky of mag[0 : p - f]: below[i] = OR(mag[0:i]) (a log-depth Sklansky prefix OR),
    # picked at i = p - f (0 if p < f)
    pre: list[Value] = [mag[i] for i in range(w)]
    d = 1
    while d < w:
        pre = [pre[i] | pre[(i // d) * d - 1] if (i // d) % 2 else pre[i] for i in range(w)]
        d *= 2
    below = Signal(w + 1, name=f"{name}_below")
    m.d.comb += below.eq(Cat(Const(0, 1), *pre))
    lowst = Signal(name=f"{name}_lowsticky")
    m.d.comb += lowst.eq(Mux(p >= f, below.bit_select((p - f).as_unsigned()[: len(p)], 1), 0))
    tail = Cat(top, sc[:es]) if es else top
    return _posit_pattern(m, name=name, n=n, es=es, sc=sc, k=k, tail=tail, extra_sticky=lowst,
                          nz=nz, sign=sign, nan=nan)
