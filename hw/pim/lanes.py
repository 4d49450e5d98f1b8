"""Operand decoders and the exact product of one logic-PIM lane (no multiplier).

Every format of :data:`~mixforge.hw.pim.config.W_FORMATS` / ``A_FORMATS`` decodes into an
:class:`Operand`: signed significand and exponent (``value = sig * 2**exp``, the
``mixforge.models.exact.decode_exact`` convention), and the class flags the IEEE special-value
rules need (NaN / NaR, infinity, zero, sign). :func:`lane_product` multiplies two operands by
shifted adds, aligns the product to the accumulator's fixed-point frame and derives the
product's class: NaN for a NaN operand or ``0 * inf``, else ``±inf`` for an infinite operand.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned

from mixforge.hw.pe.arith import decode_fp4, decode_posit, shift_add_product
from mixforge.hw.pim.config import BITS, FLOAT_FIELDS, SIG_EXP

__all__ = ["Operand", "decode_operand", "lane_product", "in_codes"]


def _signed_bits(lo: int, hi: int) -> int:
    """Two's complement bits holding every integer in ``lo..hi``."""
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


def _exp_range(f: str) -> tuple[int, int]:
    """Exponents a pattern of ``f`` can decode to (floats: up to the all-ones exponent)."""
    lo, hi = SIG_EXP[f][1], SIG_EXP[f][2]
    if f in FLOAT_FIELDS:
        eb, mb, bias, _ = FLOAT_FIELDS[f]
        hi = (1 << eb) - 1 - bias - mb
    return lo, hi


class Operand:
    """A decoded operand: ``sig * 2**exp`` plus ``ok`` (a format of this decoder is selected),
    ``nan``, ``inf``, ``zero`` and ``neg`` (sign bit) flags (0 when ``ok`` is low)."""

    def __init__(self, sig: Signal, exp: Signal, ok: Signal, nan: Signal, inf: Signal,
                 zero: Signal, neg: Signal):
        self.sig, self.exp, self.ok, self.nan, self.inf, self.zero, self.neg = \
            sig, exp, ok, nan, inf, zero, neg


def _float_fields(m: Module, raw: Value, f: str, name: str) -> tuple[Value, ...]:
    """(sig, exp, nan, inf, zero, neg) of an IEEE-style float pattern (FP8/FP16/BF16)."""
    eb, mb, bias, has_inf = FLOAT_FIELDS[f]
    sign, e, frac = raw[eb + mb], raw[mb:mb + eb], raw[:mb]
    emax = e == (1 << eb) - 1
    if has_inf:
        nan, inf = emax & (frac != 0), emax & (frac == 0)
    else:  # OCP E4M3: S.1111.111 is NaN, no infinities
        nan, inf = raw[:eb + mb] == (1 << (eb + mb)) - 1, Const(0, 1)
    mag = Signal(mb + 1, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(nan | inf, 0, Cat(frac, e != 0)))
    exp = Cat(Mux(e == 0, 1, e), Const(0, 1)).as_signed() - (bias + mb)
    return Mux(sign, -mag, mag), exp, nan, inf, (mag == 0) & ~nan & ~inf, sign


def decode_operand(m: Module, raw: Value, code: Value, fmts: dict[str, int],
                   name: str) -> Operand:
    """Decode ``raw`` (its low ``BITS[f]`` bits) in the format whose code ``code`` selects
    among ``fmts`` (name -> code); any other code gives ``ok = 0`` and a zero significand."""
    sb = max(_signed_bits(-SIG_EXP[f][0], SIG_EXP[f][0]) for f in fmts)
    eb = max(_signed_bits(*_exp_range(f)) for f in fmts)
    sig = Signal(signed(sb), name=f"{name}_sig")
    exp = Signal(signed(eb), name=f"{name}_exp")
    ok, nan, inf, zero, neg = (Signal(name=f"{name}_{n}")
                               for n in ("ok", "nan", "inf", "zero", "neg"))
    zero1 = Const(0, 1)
    with m.Switch(code):
        for f, c in fmts.items():
            r = raw[:BITS[f]]
            if f in ("int4", "int8"):
                s, e, n, i = r.as_signed(), Const(0, 1), zero1, zero1
                z, sg = r == 0, r[-1]
            elif f == "fp4":
                u = decode_fp4(r)
                s, e, n, i = Mux(u.sign, -u.sig, u.sig), u.exp, zero1, zero1
                z, sg = u.sig == 0, u.sign
            elif f == "posit8":
                u = decode_posit(m, r, n=8, es=0, name=f"{name}_p8")
                s, e, n, i = Mux(u.sign, -u.sig, u.sig), u.exp, u.nar, zero1
                z, sg = r == 0, u.sign
            else:
                s, e, n, i, z, sg = _float_fields(m, r, f, f"{name}_{f}")
            with m.Case(c):
                m.d.comb += [sig.eq(s), exp.eq(e), ok.eq(1), nan.eq(n), inf.eq(i),
                             zero.eq(z), neg.eq(sg)]
    return Operand(sig, exp, ok, nan, inf, zero, neg)


def lane_product(m: Module, w: Operand, a: Operand, *, lsb: int, bits: int, name: str
                 ) -> tuple[Signal, Signal, Signal, Signal]:
    """Exact ``w * a`` shifted into the accumulator frame (LSB ``2**lsb``, ``bits`` wide),
    and the product's NaN, +inf and -inf flags (all low unless both operands are ``ok``)."""
    prod = Signal(signed(len(w.sig) + len(a.sig) + 1), name=f"{name}_prod")
    m.d.comb += prod.eq(shift_add_product(w.sig, a.sig))
    out = Signal(signed(bits), name=name)
    if len(w.exp) == 1 and len(a.exp) == 1 and lsb == 0:
        m.d.comb += out.eq(prod)  # integer formats only: no alignment shifter
    else:
        # w.exp + a.exp >= lsb for every pair the unit is built for; a special operand has a
        # zero significand, so its (out-of-range) exponent shifts a zero
        shift = Signal(unsigned((bits - 1).bit_length()), name=f"{name}_sh")
        m.d.comb += [shift.eq(w.exp + a.exp - lsb), out.eq(prod << shift)]
    ok = w.ok & a.ok
    nan, pinf, ninf = (Signal(name=f"{name}_{n}") for n in ("nan", "pinf", "ninf"))
    inf = ok & (w.inf | a.inf)
    neg = w.neg ^ a.neg
    m.d.comb += [nan.eq(ok & (w.nan | a.nan | (w.inf & a.zero) | (w.zero & a.inf))),
                 pinf.eq(inf & ~neg), ninf.eq(inf & neg)]
    return out, nan, pinf, ninf


def in_codes(code: Value, fmts: dict[str, int], which: tuple[str, ...]) -> Value:
    """High when ``code`` is the code of one of the formats ``which`` built in ``fmts``."""
    hits = [code == c for f, c in fmts.items() if f in which]
    return Cat(*hits).any() if hits else Const(0, 1)
