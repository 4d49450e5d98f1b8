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

Multiformat (XR-NPE ``MultiFormatMAC``) and FP16-MAC baseline cells reuse the PE library's
builders the same way (``hw.pe.multiformat.decode_word / lane_products / quire_term``,
``hw.pe.baselines.fp16_scaled_weight / fp16_product / fp16_signed_term``); see below.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed

from mixforge.hw.array.config import POSIT8_FIXED_LSB
from mixforge.hw.pe.arith import decode_posit, round_to_float, round_to_posit
from mixforge.hw.pe.baselines import (
    fp16_nonfinite,
    fp16_product,
    fp16_scaled_weight,
    fp16_signed_term,
)
from mixforge.hw.pe.multiformat import (
    Mode,
    decode_word,
    lane_products,
    lane_sig_widths,
    quire_term,
)

__all__ = ["posit8_decode_packed", "posit8_product_decoded", "fixed_to_posit8",
           "POSIT8_DECODED_BITS", "MF_DECODED_BITS", "multiformat_decode_packed",
           "multiformat_term", "FP16_WEIGHT_BITS", "fp16_weight_dequant", "fp16_mac_term"]

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


# ---------------------------------------------------------------- multiformat (XR-NPE MAC)
#
# Operand words are decoded once at the array edge by the MultiFormatMAC's own lane decoders
# (``hw.pe.multiformat.decode_word``) and travel packed: per lane j (LSB first)
# ``Cat(sign, exp[8], sig[sig_w_j], nar)``, then the 2-bit mode (it travels with the operand so
# every cell sees the mode its operands were decoded in). A cell forms the lane products and
# their quire-aligned sum with the MAC's own builders (``lane_products``, ``quire_term``).

_MF_SIG_W = lane_sig_widths(shared=True)
#: Width of a decoded multiformat operand word (four lanes + mode).
MF_DECODED_BITS = sum(1 + 8 + w + 1 for w in _MF_SIG_W) + 2


def multiformat_decode_packed(m: Module, word: Value, mode: Value, *, name: str = "md"
                              ) -> Signal:
    """Decode one 16-bit operand word in ``mode`` (all four lanes) into the packed form."""
    parts: list[Value] = []
    for j, (u, sw) in enumerate(zip(decode_word(m, word, mode, name=name), _MF_SIG_W,
                                    strict=True)):
        e = Signal(signed(8), name=f"{name}{j}_e")
        g = Signal(sw, name=f"{name}{j}_g")
        m.d.comb += [e.eq(u.exp), g.eq(u.sig)]
        parts += [u.sign, e, g, u.nar]
    packed = Signal(MF_DECODED_BITS, name=f"{name}_dec")
    m.d.comb += packed.eq(Cat(*parts, mode))
    return packed


def _mf_unpack(d: Value) -> tuple[list[tuple[Value, Value, Value, Value]], Value]:
    lanes, off = [], 0
    for sw in _MF_SIG_W:
        lanes.append((d[off], d[off + 1: off + 9].as_signed(), d[off + 9: off + 9 + sw],
                      d[off + 9 + sw]))
        off += sw + 10
    return lanes, d[off: off + 2]


def multiformat_term(m: Module, da: Value, db: Value, *, name: str = "mt"
                     ) -> tuple[Signal, Value]:
    """The exact sum of one word pair's lane products, as a quire term (signed, LSB
    ``2**QUIRE_LSB``), and the NaR of the active lanes; the mode is ``da``'s."""
    la, mode = _mf_unpack(da)
    lb, _ = _mf_unpack(db)
    dec = [(sa, ea, ga, sb, eb, gb, na | nb)
           for (sa, ea, ga, na), (sb, eb, gb, nb) in zip(la, lb, strict=True)]
    md = Signal(Mode, name=f"{name}_mode")
    m.d.comb += md.eq(mode)
    prods = lane_products(m, dec, md, shared=True, name=f"{name}_")
    return quire_term(m, prods, md, shared=True, name=f"{name}_")


# ---------------------------------------------------------------- fp16_mac (W(k)A16 baseline)

#: A dequantized weight travels as its float16 pattern plus the "scale non-finite" flag.
FP16_WEIGHT_BITS = 17


def fp16_weight_dequant(m: Module, w: Value, zero: Value, scale: Value, *, name: str = "wf"
                        ) -> Signal:
    """``float16(s * (w - z))`` (``FP16MacPE``'s stage 1 + 2), packed with the NaN flag of
    ``s``: ``Cat(wf[16], s_nonfinite)``."""
    x = Signal(signed(52), name=f"{name}_x")
    m.d.comb += x.eq(fp16_scaled_weight(w, zero, scale))
    wf = round_to_float(m, x, lsb=-24, fmt="float16", name=name)
    packed = Signal(FP16_WEIGHT_BITS, name=f"{name}_dec")
    m.d.comb += packed.eq(Cat(wf, fp16_nonfinite(scale)))
    return packed


def fp16_mac_term(m: Module, dw: Value, a: Value, *, name: str = "ft"
                  ) -> tuple[Signal, Signal]:
    """Exact ``wf * a`` (``*``, LSB 2**-48, signed 81 bits) and its NaN flag."""
    wf = dw[:16]
    p, sh, neg = fp16_product(wf, a[:16])
    term = Signal(signed(81), name=f"{name}_t")
    bad = Signal(name=f"{name}_bad")
    m.d.comb += [term.eq(fp16_signed_term(p, sh, neg)),
                 bad.eq(dw[16] | fp16_nonfinite(wf) | fp16_nonfinite(a[:16]))]
    return term, bad
