"""``LogicPIMUnit``: a Duplex-style GEMV / skinny-GEMM / attention-score unit on the HBM logic die.

It serves one pseudo-channel: weight (or K-cache) data arrives as DRAM bursts on a wide stream
``w`` of ``banks * burst_bits`` bits (one bank bundle read in parallel). An activation SRAM
holds up to ``max_tokens`` activation vectors (tokens, or the query heads of one GQA group).
Every cycle the unit multiplies the current beat (or half of it) by one token's activations in
``width / 8`` mixed-precision lanes and accumulates exactly; a beat is consumed after the last
token, so one weight byte feeds ``tokens`` MACs (the Op/B knob of Duplex). Semantics:
:mod:`mixforge.hw.pim.reference` (exact products, exact sum over K, int32 for INT x INT8, one
rounding into float32 otherwise, NaN for NaR / non-finite inputs).

Lanes (one per weight byte, no multiplier): both operands are decoded into a signed significand
and an exponent with the PE library's builders (``decode_fp4``, ``decode_posit``; INT4/INT8 and
FP16 are plain fields), multiplied by ``shift_add_product`` and shifted into a common
fixed-point frame (LSB ``PimUnitConfig.acc_lsb``); a second 4-bit x INT8 product per lane serves
the INT4/FP4 x INT8 modes (two weights per byte). The accumulators round once through
``round_to_float``.

Ports
-----
``mode`` (3 bits, stable during a job, :func:`~mixforge.hw.pim.config.mode_code`): bits 0-1
weight format (0 INT4, 1 INT8, 2 FP4 E2M1, 3 posit(8,0)), bit 2 FP16 activations (else INT8).
Only the formats in ``config.w_formats`` / ``a_formats`` are built (a code of a format that is
not built gives zero products; ``run_pim_tb`` rejects such jobs). ``tokens``
(1..max_tokens), ``k_words`` (activation words per token: ``PimUnitConfig.k_words``). ``act``:
buffer writes ``{addr, data}``, ``addr = token * max_k_words + word`` (load between jobs).
``w``: weight beats in column order (:func:`~mixforge.hw.pim.reference.pack_job`).
``o``: stream of ``{value, token, last}``, one per token per column in token order (``last`` on
the last token); ``value`` is the int32 or float32 bit pattern. ``o`` honours ``ready``: while
a result waits, the whole pipeline holds and ``w.ready`` is low, so nothing is lost or repeated.

Pipeline: issue (sequencer, SRAM read address, beat register) -> lanes + accumulate -> output
register (rounding is combinational from it). :attr:`latency` = 2.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from mixforge.errors import ConfigError
from mixforge.hw.pe.arith import (
    adder_tree,
    decode_fp4,
    decode_posit,
    round_to_float,
    shift_add_product,
)
from mixforge.hw.pim.config import BITS, SIG_EXP, W_FORMATS, PimUnitConfig

__all__ = ["LogicPIMUnit"]

_INT4, _INT8, _FP4, _P8 = (W_FORMATS[f] for f in ("int4", "int8", "fp4", "posit8"))


def _signed_bits(lo: int, hi: int) -> int:
    """Two's complement bits holding every integer in ``lo..hi``."""
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


class _Operand:
    """A decoded operand: signed significand, exponent, NaN/NaR flag (value = sig * 2**exp)."""

    def __init__(self, sig: Value, exp: Value, nan: Value):
        self.sig, self.exp, self.nan = sig, exp, nan


def _decode_weight(m: Module, raw: Value, wcode: Value, fmts: tuple[str, ...],
                   name: str) -> _Operand:
    """Weight byte/nibble ``raw`` in the format ``wcode`` selects, among ``fmts``."""
    zero = Const(0, 1)
    sb = max(_signed_bits(-SIG_EXP[f][0], SIG_EXP[f][0]) for f in fmts)
    eb = _signed_bits(min(SIG_EXP[f][1] for f in fmts), max(SIG_EXP[f][2] for f in fmts))
    sig = Signal(signed(sb), name=f"{name}_sig")
    exp = Signal(signed(eb), name=f"{name}_exp")
    nan = Signal(name=f"{name}_nan")
    with m.Switch(wcode):
        for f in fmts:
            if f in ("int4", "int8"):
                s, e, n = raw[:BITS[f]].as_signed(), Const(0, 1), zero
            elif f == "fp4":
                u = decode_fp4(raw[:4])
                s, e, n = Mux(u.sign, -u.sig, u.sig), u.exp, zero
            else:
                u = decode_posit(m, raw[:8], n=8, es=0, name=f"{name}_p8")
                s, e, n = Mux(u.sign, -u.sig, u.sig), u.exp, u.nar
            with m.Case(W_FORMATS[f]):
                m.d.comb += [sig.eq(s), exp.eq(e), nan.eq(n)]
    return _Operand(sig, exp, nan)


def _decode_act(m: Module, a8: Value, a16: Value | None, fp16: Value, name: str) -> _Operand:
    """INT8 activation ``a8``, or the FP16 ``a16`` when ``fp16`` (``a16=None``: INT8 only)."""
    sig = Signal(signed(8 if a16 is None else 12), name=f"{name}_sig")
    exp = Signal(signed(1 if a16 is None else 6), name=f"{name}_exp")
    nan = Signal(name=f"{name}_nan")
    m.d.comb += sig.eq(a8.as_signed())
    if a16 is not None:
        e, f = a16[10:15], a16[:10]
        with m.If(fp16):
            m.d.comb += [sig.eq(Mux(a16[15], -Cat(f, e != 0), Cat(f, e != 0))),
                         exp.eq(Mux(e == 0, 1, e) - 25), nan.eq(e == 0x1F)]
    return _Operand(sig, exp, nan)


def _align(m: Module, w: _Operand, a: _Operand, *, lsb: int, bits: int, name: str) -> Signal:
    """Exact ``w * a`` by shifted adds, shifted into the accumulator frame (LSB ``2**lsb``)."""
    prod = Signal(signed(len(w.sig) + len(a.sig) + 1), name=f"{name}_prod")
    m.d.comb += prod.eq(shift_add_product(w.sig, a.sig))
    out = Signal(signed(bits), name=name)
    if len(w.exp) == 1 and len(a.exp) == 1 and lsb == 0:
        m.d.comb += out.eq(prod)  # integer formats only: no alignment shifter
        return out
    # w.exp + a.exp >= lsb by construction, and a product shifted further would not fit `bits`
    shift = Signal(unsigned((bits - 1).bit_length()), name=f"{name}_sh")
    m.d.comb += [shift.eq(w.exp + a.exp - lsb), out.eq(prod << shift)]
    return out


class LogicPIMUnit(wiring.Component):
    """One logic-die processing unit (all parameters keyword-only, see :class:`PimUnitConfig`)."""

    def __init__(self, *, config: PimUnitConfig):
        if not isinstance(config, PimUnitConfig):
            raise ConfigError(f"must be a PimUnitConfig, not {type(config).__name__}",
                              path="config")
        self._cfg = c = config
        depth = c.max_tokens * c.max_k_words
        super().__init__({
            "mode": In(3),
            "tokens": In(range(c.max_tokens + 1)),
            "k_words": In(range(c.max_k_words + 1)),
            "act": In(stream.Signature(data.StructLayout({
                "addr": range(depth), "data": unsigned(c.word_bits)}))),
            "w": In(stream.Signature(unsigned(c.width))),
            "o": Out(stream.Signature(data.StructLayout({
                "value": unsigned(32), "token": range(c.max_tokens), "last": 1}))),
        })

    @property
    def config(self) -> PimUnitConfig:
        return self._cfg

    @property
    def latency(self) -> int:
        """Cycles from issuing a column's last operation to its first result."""
        return self._cfg.latency

    @property
    def throughput(self) -> float:
        """Peak products per cycle in the INT8-weight modes (INT4/FP4 x INT8: twice this)."""
        return float(self._cfg.lanes)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        c = self._cfg
        wf, af = tuple(c.w_formats), tuple(c.a_formats)
        half_lanes = c.lanes  # weight bytes per beat = FP16 activations per word
        mem = memory.Memory(shape=unsigned(c.word_bits), depth=c.max_tokens * c.max_k_words,
                            init=[])
        m.submodules.act_mem = mem
        wr = mem.write_port()
        rd = mem.read_port()
        m.d.comb += [self.act.ready.eq(1), wr.addr.eq(self.act.payload.addr),
                     wr.data.eq(self.act.payload.data), wr.en.eq(self.act.valid)]

        # ---- mode decode
        wcode, fp16 = self.mode[:2], Signal(name="fp16")
        m.d.comb += fp16.eq(self.mode[2] if "fp16" in af else 0)
        w4 = Signal(name="w4")
        m.d.comb += w4.eq((wcode == _INT4) | (wcode == _FP4))
        two_per_byte = Signal(name="two_per_byte")  # 4-bit weights x INT8: two products / lane
        m.d.comb += two_per_byte.eq(w4 & ~fp16)
        w8a8 = Signal(name="w8a8")
        m.d.comb += w8a8.eq(~w4 & ~fp16)
        split_beat = Signal(name="split_beat")  # 4-bit weights x FP16: a beat spans two words
        m.d.comb += split_beat.eq(w4 & fp16)
        is_int = Signal(name="is_int")
        m.d.comb += is_int.eq(((wcode == _INT4) | (wcode == _INT8)) & ~fp16)

        # ---- stage 0: sequencer (op within a column x token), SRAM address, beat register
        s2_valid = Signal(name="s2_valid")
        adv = Signal(name="adv")  # the whole pipeline moves (the output slot is free)
        m.d.comb += adv.eq(~s2_valid | self.o.ready)
        tok = Signal(range(c.max_tokens), name="tok")
        base = Signal(range(c.max_tokens * c.max_k_words + 1), name="tok_base")
        op = Signal(range(2 * c.max_k_words), name="op")
        ops_per_col = Signal(range(2 * c.max_k_words + 1), name="ops_per_col")
        last_tok, col_end, beat_end = (Signal(name=n) for n in ("last_tok", "col_end",
                                                                  "beat_end"))
        m.d.comb += [
            ops_per_col.eq(Mux(w8a8, self.k_words << 1, self.k_words)),
            last_tok.eq(tok == self.tokens - 1),
            col_end.eq(op == ops_per_col - 1),
            beat_end.eq(Mux(split_beat, op[0], 1)),
            self.w.ready.eq(adv & last_tok & beat_end),
            rd.addr.eq(base + Mux(w8a8, op >> 1, op)),
            rd.en.eq(adv),
        ]
        issue = Signal(name="issue")
        m.d.comb += issue.eq(self.w.valid & adv)
        with m.If(issue):
            with m.If(last_tok):
                m.d.sync += [tok.eq(0), base.eq(0), op.eq(Mux(col_end, 0, op + 1))]
            with m.Else():
                m.d.sync += [tok.eq(tok + 1), base.eq(base + c.max_k_words)]
        s1_valid, s1_half, s1_first, s1_last, s1_lasttok = (
            Signal(name=n) for n in ("s1_valid", "s1_half", "s1_first", "s1_last",
                                     "s1_lasttok"))
        s1_w = Signal(c.width, name="s1_w")
        s1_tok = Signal(range(c.max_tokens), name="s1_tok")
        with m.If(adv):
            m.d.sync += [s1_valid.eq(self.w.valid), s1_w.eq(self.w.payload), s1_tok.eq(tok),
                         s1_half.eq(op[0]), s1_first.eq(op == 0), s1_last.eq(col_end),
                         s1_lasttok.eq(last_tok)]

        # ---- stage 1: lanes on (s1_w, SRAM word), exact dot product, accumulate
        word = rd.data
        act8 = [word[8 * e: 8 * e + 8] for e in range(2 * half_lanes)]
        act16 = [word[16 * e: 16 * e + 16] for e in range(half_lanes)]
        nib = [s1_w[4 * e: 4 * e + 4] for e in range(2 * half_lanes)]
        byte = [s1_w[8 * e: 8 * e + 8] for e in range(half_lanes)]
        w4_fmts = tuple(f for f in wf if BITS[f] == 4)
        has4 = bool(w4_fmts)
        has8 = any(f in wf for f in ("int8", "posit8"))
        terms: list[Value] = []
        nans: list[Value] = []
        for j in range(half_lanes):
            raw = Signal(8, name=f"l{j}_w")
            lo4 = Mux(fp16, Mux(s1_half, nib[half_lanes + j], nib[j]), nib[2 * j]) \
                if "fp16" in af else nib[2 * j]
            m.d.comb += raw.eq(Mux(w4, lo4, byte[j]) if has4 and has8 else
                               (lo4 if has4 else byte[j]))
            a8 = Mux(two_per_byte, act8[2 * j], Mux(s1_half, act8[half_lanes + j], act8[j]))
            wo = _decode_weight(m, raw, wcode, wf, name=f"l{j}w")
            ao = _decode_act(m, a8, act16[j] if "fp16" in af else None, fp16, name=f"l{j}a")
            terms.append(_align(m, wo, ao, lsb=c.acc_lsb, bits=c.prod_bits, name=f"l{j}"))
            nans += [wo.nan, ao.nan]
            if has4 and "int8" in af:  # the second weight of a byte (INT4/FP4 x INT8 only)
                who = _decode_weight(m, nib[2 * j + 1], wcode, w4_fmts, name=f"h{j}w")
                aho = _decode_act(m, act8[2 * j + 1], None, fp16, name=f"h{j}a")
                hi = _align(m, who, aho, lsb=c.acc_lsb, bits=c.prod_bits, name=f"h{j}")
                terms.append(Mux(two_per_byte, hi, 0))
        dot = Signal(signed(c.acc_bits), name="dot")
        m.d.comb += dot.eq(adder_tree(terms, c.acc_bits))
        dot_nan = Signal(name="dot_nan")
        m.d.comb += dot_nan.eq(Cat(*nans).any())
        accs = Array(Signal(signed(c.acc_bits), name=f"acc{t}") for t in range(c.max_tokens))
        acc_nan = Array(Signal(name=f"acc{t}_nan") for t in range(c.max_tokens))
        new = Signal(signed(c.acc_bits), name="new")
        new_nan = Signal(name="new_nan")
        m.d.comb += [new.eq(Mux(s1_first, 0, accs[s1_tok]) + dot),
                     new_nan.eq(Mux(s1_first, 0, acc_nan[s1_tok]) | dot_nan)]

        # ---- stage 2: output register; the rounding reads it
        s2_acc = Signal(signed(c.acc_bits), name="s2_acc")
        s2_nan, s2_int, s2_last = Signal(name="s2_nan"), Signal(name="s2_int"), \
            Signal(name="s2_last")
        s2_tok = Signal(range(c.max_tokens), name="s2_tok")
        with m.If(adv):
            m.d.sync += s2_valid.eq(s1_valid & s1_last)
            with m.If(s1_valid):
                m.d.sync += [accs[s1_tok].eq(new), acc_nan[s1_tok].eq(new_nan),
                             s2_acc.eq(new), s2_nan.eq(new_nan), s2_int.eq(is_int),
                             s2_tok.eq(s1_tok), s2_last.eq(s1_lasttok)]
        value = Signal(32, name="value")
        has_int = any(f in wf for f in ("int4", "int8")) and "int8" in af
        has_float = any(not PimUnitConfig.int_output(w, a) for w in wf for a in af)
        int_val = Signal(32, name="int_value")
        if has_int:
            m.d.comb += int_val.eq(s2_acc >> -c.acc_lsb)
        if has_float:
            fl = round_to_float(m, s2_acc, lsb=c.acc_lsb, fmt="float32", nan=s2_nan,
                                name="rf")
            m.d.comb += value.eq(Mux(s2_int, int_val, fl) if has_int else fl)
        else:
            m.d.comb += value.eq(int_val)
        m.d.comb += [self.o.valid.eq(s2_valid), self.o.payload.value.eq(value),
                     self.o.payload.token.eq(s2_tok), self.o.payload.last.eq(s2_last)]
        return m
