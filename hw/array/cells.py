"""Combinational arithmetic of one array cell (Amaranth builders, no state).

Each builder adds logic to a :class:`Module` and returns the result values; the reference
semantics live in :mod:`mixforge.hw.array.reference` (built on ``mixforge.models``).

* :func:`shift_add_product`: signed k-bit weight x signed activation by shifted adds (no ``*``):
  ``sum_{i<k-1} w_i * (a << i) - w_{k-1} * (a << (k-1))`` = the exact two's complement product.
* :func:`posit8_product`: exact product of two posit(8,0) patterns as a fixed-point integer with
  LSB ``2**-12`` (every posit(8,0) is a multiple of minpos = 2**-6), plus a NaR flag.
* :func:`fixed_to_posit8`: round a fixed-point sum (LSB ``2**-12``) once to posit(8,0):
  round to nearest on the encoding, ties to the even pattern, magnitudes >= maxpos (64) give
  maxpos and nonzero magnitudes below minpos give minpos (Posit Standard 2022).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned

__all__ = ["shift_add_product", "posit8_decode", "posit8_decode_packed", "posit8_product",
           "posit8_product_decoded", "fixed_to_posit8", "POSIT8_DECODED_BITS"]


def shift_add_product(m: Module, w: Value, a: Value, *, w_bits: int, a_bits: int,
                      name: str = "sa") -> Signal:
    """``w * a`` for signed ``w`` (``w_bits``) and ``a`` (``a_bits``) patterns, by shifted adds."""
    prod = Signal(signed(w_bits + a_bits), name=f"{name}_prod")
    a_s = a[:a_bits].as_signed()
    terms: list[Value] = []
    for i in range(w_bits):
        pp = Mux(w[i], a_s << i, 0)
        terms.append(-pp if i == w_bits - 1 else pp)
    total: Value = terms[0]
    for t in terms[1:]:
        total = total + t
    m.d.comb += prod.eq(total)
    return prod


def posit8_decode(m: Module, p: Value, *, name: str = "pd"
                  ) -> tuple[Signal, Signal, Signal, Signal, Signal]:
    """Decode a posit(8,0) pattern: ``(nar, zero, sign, k, sig)``.

    ``value = (-1)**sign * 2**k * sig / 32`` with ``sig = 1.fffff`` as a 6-bit integer
    (32..63) and ``k`` in -6..6; ``sig``/``k`` are meaningless when ``nar`` or ``zero``.
    """
    nar = Signal(name=f"{name}_nar")
    zero = Signal(name=f"{name}_zero")
    sign = Signal(name=f"{name}_sign")
    k = Signal(signed(4), name=f"{name}_k")
    sig = Signal(unsigned(6), name=f"{name}_sig")
    x = Signal(7, name=f"{name}_x")  # the 7 bits after the sign of |p| (two's complement)
    m.d.comb += [
        nar.eq(p[:8] == 0x80),
        zero.eq(p[:8] == 0),
        sign.eq(p[7]),
        x.eq(Mux(p[7], -p[:8], p[:8])[:7]),
    ]
    with m.Switch(x):
        for first in (1, 0):
            for run in range(1, 8):
                if first == 0 and run == 7:
                    continue  # all-zero tail: zero or NaR, handled by the flags
                pat = str(first) * run + (str(1 - first) if run < 7 else "")
                fbits = max(7 - run - 1, 0)
                with m.Case(pat + "-" * (7 - len(pat))):
                    frac = x[:fbits] if fbits else Const(0, 1)
                    m.d.comb += [k.eq(run - 1 if first else -run),
                                 sig.eq((1 << 5) | (frac << (5 - fbits)) if fbits else 32)]
        with m.Default():  # all-zero tail: zero or NaR, flagged above
            m.d.comb += [k.eq(0), sig.eq(32)]
    return nar, zero, sign, k, sig


#: Width of a decoded posit(8,0) operand as packed by :func:`posit8_decode_packed`.
POSIT8_DECODED_BITS = 13


def posit8_decode_packed(m: Module, p: Value, *, name: str = "pd") -> Signal:
    """:func:`posit8_decode` packed as ``Cat(sig[6], k[4], sign, zero, nar)`` (13 bits).

    Arrays decode each operand once at their edge and pass this form between cells.
    """
    nar, zero, sign, k, sig = posit8_decode(m, p, name=name)
    packed = Signal(POSIT8_DECODED_BITS, name=f"{name}_dec")
    m.d.comb += packed.eq(Cat(sig, k, sign, zero, nar))
    return packed


def posit8_product_decoded(m: Module, da: Value, db: Value, *, name: str = "pp"
                           ) -> tuple[Signal, Signal]:
    """Exact product of two packed decoded posit(8,0) operands: signed(26), LSB ``2**-12``."""
    ga, ka, sa, za, na = da[0:6], da[6:10].as_signed(), da[10], da[11], da[12]
    gb, kb, sb, zb, nb = db[0:6], db[6:10].as_signed(), db[10], db[11], db[12]
    sig = Signal(12, name=f"{name}_sig")
    sh = Signal(5, name=f"{name}_sh")  # ka + kb + 12 in 0..24
    mag = Signal(25, name=f"{name}_mag")
    prod = Signal(signed(26), name=f"{name}_prod")
    nar = Signal(name=f"{name}_nar")
    m.d.comb += [
        sig.eq(ga * gb),  # 6 x 6 bit significand product: (sig/2**10) * 2**(ka+kb)
        sh.eq(ka + kb + 12),
        # value * 2**12 = sig * 2**(ka + kb + 2); the 10 bits dropped are zero (exact).
        mag.eq((sig << sh)[10:35]),
        nar.eq(na | nb),
        prod.eq(Mux(za | zb | nar, 0, Mux(sa ^ sb, -mag, mag))),
    ]
    return prod, nar


def posit8_product(m: Module, a: Value, b: Value, *, name: str = "pp") -> tuple[Signal, Signal]:
    """Exact ``a * b`` of posit(8,0) patterns as signed(26) with LSB ``2**-12``; NaR flag."""
    return posit8_product_decoded(m, posit8_decode_packed(m, a, name=f"{name}_a"),
                                  posit8_decode_packed(m, b, name=f"{name}_b"), name=name)


def fixed_to_posit8(m: Module, q: Value, nar: Value, *, name: str = "rp") -> Signal:
    """Round the signed fixed-point ``q`` (LSB ``2**-12``, width >= 19) to a posit(8,0) pattern.

    NaR wins; 0 gives 0. The rounding is on the encoding: for a leading one at bit ``L``
    (scale ``k = L - 12``) the regime and ``fb`` fraction bits are fixed, the bit below is the
    guard, the rest sticky; a carry out of the fraction correctly bumps the regime.
    """
    width = len(q)
    mag = Signal(width, name=f"{name}_mag")
    body = Signal(7, name=f"{name}_body")  # rounded |result| without sign
    out = Signal(8, name=f"{name}_out")
    m.d.comb += mag.eq(Mux(q.as_signed() < 0, -q.as_signed(), q.as_signed()))
    with m.If(mag[18:].any()):  # >= 2**6 = maxpos
        m.d.comb += body.eq(0x7F)
    for lead in range(17, 5, -1):
        k = lead - 12
        regime, rlen = ((((1 << (k + 1)) - 1) << 1), k + 2) if k >= 0 else (1, 1 - k)
        fb = 7 - rlen
        with m.Elif(mag[lead]):
            base = regime << fb
            frac = mag[lead - fb:lead] if fb else Const(0, 1)
            guard = mag[lead - fb - 1]
            sticky = mag[:lead - fb - 1].any()
            pat = Const(base, 7) | frac
            m.d.comb += body.eq(pat + (guard & (sticky | pat[0])))
    with m.Elif(mag != 0):  # below minpos: never round a nonzero to 0
        m.d.comb += body.eq(1)
    neg = q.as_signed() < 0
    m.d.comb += out.eq(Mux(nar, 0x80, Mux(neg, -body, body)))
    return out
