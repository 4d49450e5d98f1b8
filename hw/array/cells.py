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

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

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
    format_term,
    lane_exp_ranges,
    lane_modes,
    lane_products,
    lane_sig_widths,
    quire_term,
)
from mixforge.hw.pe.separate_macs import mode_name, pick_readout, readouts
from mixforge.models.pe import SEPARATE_ACC

__all__ = ["posit8_decode_packed", "posit8_product_decoded", "fixed_to_posit8",
           "POSIT8_DECODED_BITS", "MF_DECODED_BITS", "multiformat_decode_packed",
           "multiformat_term", "FP16_WEIGHT_BITS", "fp16_weight_dequant", "fp16_mac_term",
           "SQ_DECODED_BITS", "mf_decoded_bits", "separate_segments", "separate_macs_term",
           "separate_macs_add", "separate_macs_readout"]

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

#
# The baselines (``pe: shared_quire`` = ``SharedQuireMAC``, ``pe: separate_macs`` =
# ``SeparateMacsMAC``) decode with their own per-format lane decoders (``shared=False``: eleven
# lanes, FP4 0-3, posit4 4-7, posit8 8-9, posit16 10, each decoding only its own format) and
# carry each lane's exponent in the fewest bits its format needs.


def _lane_fields(shared: bool) -> list[tuple[int, int]]:
    """(exponent bits, significand bits) of every lane of the packed operand."""
    if shared:  # lane 0 / 1 hold narrower formats' slots: 8-bit exponents as the MAC
        return [(8, w) for w in lane_sig_widths(True)]
    return [(max(lo.bit_length(), hi.bit_length()) + 1, w)
            for (lo, hi), w in zip(lane_exp_ranges(False), lane_sig_widths(False), strict=True)]


_FIELDS = {sh: _lane_fields(sh) for sh in (True, False)}


def mf_decoded_bits(shared: bool = True) -> int:
    """Width of a decoded operand word: per lane sign, exponent, significand, NaR; the mode."""
    return sum(1 + ew + sw + 1 for ew, sw in _FIELDS[shared]) + 2


#: Width of a decoded multiformat operand word (four lanes + mode).
MF_DECODED_BITS = mf_decoded_bits(True)
#: Width of a decoded baseline operand word (eleven per-format lanes + mode).
SQ_DECODED_BITS = mf_decoded_bits(False)


def multiformat_decode_packed(m: Module, word: Value, mode: Value, *, shared: bool = True,
                              name: str = "md") -> Signal:
    """Decode one 16-bit operand word in ``mode`` (all lanes) into the packed form; the
    baselines (``shared=False``) with one decoder per format and lane."""
    parts: list[Value] = []
    for j, (u, (ew, sw)) in enumerate(zip(decode_word(m, word, mode, shared=shared, name=name),
                                          _FIELDS[shared], strict=True)):
        e = Signal(signed(ew), name=f"{name}{j}_e")
        g = Signal(sw, name=f"{name}{j}_g")
        m.d.comb += [e.eq(u.exp), g.eq(u.sig)]
        parts += [u.sign, e, g, u.nar]
    packed = Signal(mf_decoded_bits(shared), name=f"{name}_dec")
    m.d.comb += packed.eq(Cat(*parts, mode))
    return packed


def _mf_unpack(d: Value, shared: bool = True
               ) -> tuple[list[tuple[Value, Value, Value, Value]], Value]:
    lanes, off = [], 0
    for ew, sw in _FIELDS[shared]:
        lanes.append((d[off], d[off + 1: off + 1 + ew].as_signed(),
                      d[off + 1 + ew: off + 1 + ew + sw], d[off + 1 + ew + sw]))
        off += ew + sw + 2
    return lanes, d[off: off + 2]


def _mf_products(m: Module, da: Value, db: Value, shared: bool, name: str
                 ) -> tuple[list[tuple[Signal, Signal, Value]], Signal]:
    la, mode = _mf_unpack(da, shared)
    lb, _ = _mf_unpack(db, shared)
    dec = [(sa, ea, ga, sb, eb, gb, na | nb)
           for (sa, ea, ga, na), (sb, eb, gb, nb) in zip(la, lb, strict=True)]
    md = Signal(Mode, name=f"{name}_mode")
    m.d.comb += md.eq(mode)
    return lane_products(m, dec, md, shared=shared, name=f"{name}_"), md


def multiformat_term(m: Module, da: Value, db: Value, *, shared: bool = True,
                     name: str = "mt") -> tuple[Signal, Value]:
    """The exact sum of one word pair's lane products, as a quire term (signed, LSB
    ``2**QUIRE_LSB``), and the NaR of the active lanes; the mode is ``da``'s. ``shared=False``:
    ``SharedQuireMAC``'s per-format ``*`` multipliers, aligners and group mux."""
    prods, md = _mf_products(m, da, db, shared, name)
    return quire_term(m, prods, md, shared=shared, name=f"{name}_")


# ---------------------------------------------------------------- separate_macs cells
#
# A cell holds one complete MAC per format: its lanes' ``*`` multipliers (the baseline's
# decoded operands, above), aligners and its own accumulator (``format_term``), sized for the
# array's ``max_k`` and capped at ``models.pe.SEPARATE_ACC`` (which wraps there, as the model).
# The cell's accumulator register is the packed ``Cat(acc_fp4, acc_p4, acc_p8, acc_p16,
# nar[4], mode)``: ``mode`` is the mode of the latest beat (the one with ``last`` when the
# column drains), which picks the MAC read out at the edge (``separate_macs_readout``).


def separate_segments(seg_bits: dict[str, int]) -> list[tuple[Mode, int, int]]:
    """``(mode, offset, bits)`` of each format's accumulator in the packed register; the NaR
    flags follow at ``sum(bits)``, the 2-bit mode after them."""
    out, off = [], 0
    for md in Mode:
        out.append((md, off, seg_bits[mode_name(md)]))
        off += seg_bits[mode_name(md)]
    return out


def separate_macs_term(m: Module, da: Value, db: Value, *, seg_bits: dict[str, int],
                       name: str = "st") -> tuple[Signal, Value]:
    """Every format's MAC term of one word pair, packed as the cell's register
    (``Cat(term_fp4, term_p4, term_p8, term_p16, nar[4], mode)``; ``mode`` is ``da``'s)."""
    prods, md = _mf_products(m, da, db, False, name)
    modes = lane_modes(False)
    terms: list[Value] = []
    nars: list[Value] = []
    for mode, _, bits in separate_segments(seg_bits):
        lanes = [j for j, ms in enumerate(modes) if ms == [mode]]
        fmt = {Mode.FP4X4: "fp4", Mode.P4X4: "p4", Mode.P8X2: "p8", Mode.P16X1: "p16"}[mode]
        t, n = format_term(m, [prods[j] for j in lanes], fmt, bits=bits,
                           lsb=SEPARATE_ACC[mode_name(mode)][1], lane0=lanes[0],
                           prefix=f"{name}_", name=f"{name}_mac_{fmt}")
        terms.append(t)
        nars.append(n)
    packed = Signal(sum(seg_bits.values()) + 6, name=f"{name}_packed")
    m.d.comb += packed.eq(Cat(*terms, *nars, md))
    return packed, Const(0, 1)


def separate_macs_add(acc: Value, term: Value, seg_bits: dict[str, int]) -> Value:
    """The cell's accumulate: only the MAC of the beat's mode adds its term (the others hold,
    as ``SeparateMacsMAC`` gates them); the NaR flag of that MAC is sticky; the mode is kept."""
    segs = separate_segments(seg_bits)
    nb = sum(seg_bits.values())
    mode = term[nb + 4: nb + 6]
    parts: list[Value] = []
    for md, off, bits in segs:
        a, t = acc[off: off + bits], term[off: off + bits]
        parts.append(Mux(mode == md, (a + t)[:bits], a))
    for k, (md, _, _) in enumerate(segs):
        parts.append(Mux(mode == md, acc[nb + k] | term[nb + k], acc[nb + k]))
    return Cat(*parts, mode)


def separate_macs_readout(m: Module, row: Value, *, seg_bits: dict[str, int], out: str,
                          stage: object, name: str) -> Value:
    """Bottom edge of a column: ``SeparateMacsMAC``'s per-format readouts (``readouts``: each
    accumulator rounded once into ``out``), muxed (``pick_readout``) by the mode of the
    drained element's last beat, registered beside the rounders' pipeline stage."""
    segs = separate_segments(seg_bits)
    nb = sum(seg_bits.values())
    accs = {md: (row[off: off + bits].as_signed(), row[nb + k])
            for k, (md, off, bits) in enumerate(segs)}
    mode = Signal(Mode, name=f"{name}_mode")
    m.d.sync += mode.eq(row[nb + 4: nb + 6])
    return pick_readout(readouts(m, accs, out=out, stage=stage, prefix=f"{name}_"), mode)


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
