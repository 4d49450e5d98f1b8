"""posit(8,0) glue of the array cells, built on the PE library's arithmetic (``hw/pe/arith.py``).

The array decodes every posit operand once at its edge and passes it between cells in a packed
form; the shift-and-add product and the roundings are the PE library's builders:

* :func:`posit8_decode_packed`: ``arith.decode_posit`` (n = 8, es = 0) packed as
  ``Cat(sig[6], exp[6], sign, nar)`` (:data:`POSIT8_DECODED_BITS` bits); value
  ``(-1)**sign * sig * 2**exp``, zero and NaR have ``sig == 0``.
* :func:`posit8_product_decoded`: the exact product as a signed fixed-point integer with LSB
  ``2**-12`` (every posit(8,0) is a multiple of minpos = 2**-6), plus a NaR flag.
* :func:`fixed_to_posit8`: ``arith.round_to_posit`` of that fixed-point sum (Posit Standard:
  RNE on the encoding, saturating at maxpos / minpos, NaR wins).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed

from mixforge.hw.array.config import POSIT8_FIXED_LSB
from mixforge.hw.pe.arith import decode_posit, round_to_posit

__all__ = ["posit8_decode_packed", "posit8_product_decoded", "fixed_to_posit8",
           "POSIT8_DECODED_BITS"]

#: Width of a decoded posit(8,0) operand as packed by :func:`posit8_decode_packed`.
POSIT8_DECODED_BITS = 14
#: ``exp`` of a posit(8,0) significand LSB is -11 (minpos) .. 1 (maxpos = 32 * 2**1).
_EXP_MIN = -11


def posit8_decode_packed(m: Module, p: Value, *, name: str = "pd") -> Signal:
    """Decode a posit(8,0) pattern once (``arith.decode_posit``) into the packed form."""
    u = decode_posit(m, p[:8], n=8, es=0, name=name)
    packed = Signal(POSIT8_DECODED_BITS, name=f"{name}_dec")
    m.d.comb += packed.eq(Cat(u.sig, u.exp[:6], u.sign, u.nar))
    return packed


def posit8_product_decoded(m: Module, da: Value, db: Value, *, name: str = "pp"
                           ) -> tuple[Signal, Signal]:
    """Exact product of two packed operands: signed(26) with LSB ``2**-12``, and NaR."""
    ga, ea, sa, na = da[0:6], da[6:12].as_signed(), da[12], da[13]
    gb, eb, sb, nb = db[0:6], db[6:12].as_signed(), db[12], db[13]
    sig = Signal(12, name=f"{name}_sig")
    sh = Signal(5, name=f"{name}_sh")  # ea + eb - 2 * _EXP_MIN in 0..24
    mag = Signal(25, name=f"{name}_mag")
    prod = Signal(signed(26), name=f"{name}_prod")
    nar = Signal(name=f"{name}_nar")
    drop = -2 * _EXP_MIN + POSIT8_FIXED_LSB  # 10 low bits, zero for every product (exact)
    m.d.comb += [
        sig.eq(ga * gb),
        sh.eq(ea + eb - 2 * _EXP_MIN),
        mag.eq((sig << sh)[drop:drop + 25]),
        nar.eq(na | nb),
        prod.eq(Mux(nar, 0, Mux(sa ^ sb, -mag, mag))),  # zero: sig == 0 gives mag == 0
    ]
    return prod, nar


def fixed_to_posit8(m: Module, q: Value, nar: Value, *, name: str = "rp") -> Value:
    """Round the signed fixed-point ``q`` (LSB ``2**-12``) once to a posit(8,0) pattern."""
    return round_to_posit(m, q.as_signed(), lsb=POSIT8_FIXED_LSB, n=8, es=0, nan=nar, name=name)
