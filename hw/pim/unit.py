"""``LogicPIMUnit``: a Duplex-style GEMV / skinny-GEMM / attention-score unit on the HBM logic die.

It serves one pseudo-channel: weight (or K-cache) data arrives as DRAM bursts on a wide stream
``w`` of ``banks * burst_bits`` bits (one bank bundle read in parallel). An activation SRAM
holds up to ``max_tokens`` activation vectors (tokens, or the query heads of one GQA group).
Every cycle the unit multiplies the current beat (or half of it) by one token's activations in
``width / 8`` mixed-precision lanes and accumulates exactly; a beat is consumed after the last
token, so one weight byte feeds ``tokens`` MACs (the Op/B knob of Duplex). Semantics:
:mod:`mixforge.hw.pim.reference` (exact products, exact sum over K, int32 for INT x INT8, one
rounding into float32 otherwise; IEEE specials as ``models.gemm(accumulate="exact")``: NaN for a
NaN / NaR input, ``0 * inf`` or opposite infinities, else ``±inf`` for an infinite product).

Lanes (one per weight byte, no multiplier, :mod:`mixforge.hw.pim.lanes`): both operands are
decoded into a signed significand and an exponent (``decode_fp4`` / ``decode_posit`` of the PE
library, field decoders for INT and the IEEE-style FP8 E4M3 / E5M2, FP16, BF16), multiplied by
``shift_add_product`` and shifted into a common fixed-point frame (LSB ``PimUnitConfig.acc_lsb``).
Per beat: 4-bit weights x 8-bit activations use a second product per lane (two weights per
byte); 8-bit weights use every lane; 16-bit weights (FP16 / BF16, with 16-bit activations only)
use lanes ``0 .. lanes/2 - 1`` on bytes ``2j, 2j+1``. Every mode reads ``width`` weight bits per
operation, so the peak is ``width / 8`` bytes per cycle in every format. The accumulators (plus
three sticky class bits per token: NaN, +inf, -inf) round once through ``round_to_float``.

Ports
-----
``mode`` (:func:`~mixforge.hw.pim.config.mode_code`, stable during a job): weight code
``w`` = ``mode[0:2] | mode[3] << 2`` (0 INT4, 1 INT8, 2 FP4 E2M1, 3 posit(8,0), 4 FP8 E4M3,
5 FP8 E5M2, 6 FP16, 7 BF16), activation code ``a`` = ``mode[2] | mode[4:6] << 1`` (0 INT8,
1 FP16, 2 BF16, 3 FP8 E4M3, 4 FP8 E5M2). A unit built with only the first formats (INT4 / INT8 /
FP4 / posit8 x INT8 / FP16) has the 3-bit port ``mode[0:3]`` with the same codes.
Only the formats in ``config.w_formats`` / ``a_formats`` are built (a code of a format that is
not built gives zero products; ``run_pim_tb`` rejects such jobs and 16-bit weights x 8-bit
activations). ``tokens``
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
from mixforge.hw.pe.arith import adder_tree, round_to_float
from mixforge.hw.pim.config import A_FORMATS, BITS, W_FORMATS, PimUnitConfig
from mixforge.hw.pim.lanes import decode_operand, in_codes, lane_product

__all__ = ["LogicPIMUnit"]

_W4 = ("int4", "fp4")
_W16 = ("fp16", "bf16")
_A16 = ("fp16", "bf16")
_INT = ("int4", "int8")


class LogicPIMUnit(wiring.Component):
    """One logic-die processing unit (all parameters keyword-only, see :class:`PimUnitConfig`)."""

    def __init__(self, *, config: PimUnitConfig):
        if not isinstance(config, PimUnitConfig):
            raise ConfigError(f"must be a PimUnitConfig, not {type(config).__name__}",
                              path="config")
        self._cfg = c = config
        depth = c.max_tokens * c.max_k_words
        super().__init__({
            "mode": In(c.mode_bits),
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

        # ---- mode decode (config.mode_code): weight code, activation code, beat/word ratio
        wfm = {f: W_FORMATS[f] for f in wf}
        afm = {f: A_FORMATS[f] for f in af}
        if c.legacy:
            wcode, acode = self.mode[:2], self.mode[2]
        else:
            wcode, acode = Cat(self.mode[:2], self.mode[3]), Cat(self.mode[2], self.mode[4:6])
        a16, w4, w16 = (Signal(name=n) for n in ("a16", "w4", "w16"))
        m.d.comb += [a16.eq(in_codes(acode, afm, _A16)), w4.eq(in_codes(wcode, wfm, _W4)),
                     w16.eq(in_codes(wcode, wfm, _W16))]
        two_per_byte = Signal(name="two_per_byte")  # 4-bit weights x 8-bit acts: 2 per lane
        m.d.comb += two_per_byte.eq(w4 & ~a16)
        w8a8 = Signal(name="w8a8")  # a word spans two beats (8 x 8 or 16 x 16 bits)
        m.d.comb += w8a8.eq(Mux(w16, a16, ~w4 & ~a16))
        split_beat = Signal(name="split_beat")  # 4-bit weights x 16-bit acts: a beat, 2 words
        m.d.comb += split_beat.eq(w4 & a16)
        is_int = Signal(name="is_int")
        m.d.comb += is_int.eq(in_codes(wcode, wfm, _INT) & in_codes(acode, afm, ("int8",)))

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
        hw16 = [s1_w[16 * e: 16 * e + 16] for e in range(half_lanes // 2)]
        has4 = any(BITS[f] == 4 for f in wf)
        has16 = any(BITS[f] == 16 for f in wf)
        a_has16 = any(BITS[f] == 16 for f in af)
        a8_fmts = {f: v for f, v in afm.items() if BITS[f] == 8}
        terms: list[Value] = []
        flags: list[tuple[Value, Value, Value]] = []
        for j in range(half_lanes):
            lo4 = Mux(a16, Mux(s1_half, nib[half_lanes + j], nib[j]), nib[2 * j]) \
                if a_has16 else nib[2 * j]
            # lane j: 4-bit weight lo4, weight byte j, or (j < lanes / 2) 16-bit weight j
            raw = Signal(16 if has16 else 8, name=f"l{j}_w")
            m.d.comb += raw.eq(Mux(w4, lo4, byte[j]))
            if has16 and j < half_lanes // 2:
                with m.If(w16):
                    m.d.comb += raw.eq(hw16[j])
            lane_w = wfm if j < half_lanes // 2 else {f: v for f, v in wfm.items()
                                                       if BITS[f] != 16}
            if not lane_w:  # 16-bit weights only: the upper half of the lanes is not built
                continue
            araw = Signal(16 if a_has16 else 8, name=f"l{j}_a")
            m.d.comb += araw.eq(Mux(two_per_byte, act8[2 * j],
                                    Mux(s1_half, act8[half_lanes + j], act8[j])))
            if a_has16:
                with m.If(a16):
                    m.d.comb += araw.eq(act16[j])
                    if has16 and j < half_lanes // 2:  # 16 x 16: a word holds two beats
                        with m.If(w16 & s1_half):
                            m.d.comb += araw.eq(act16[half_lanes // 2 + j])
            wo = decode_operand(m, raw, wcode, lane_w, name=f"l{j}w")
            ao = decode_operand(m, araw, acode, afm, name=f"l{j}a")
            t, *fl = lane_product(m, wo, ao, lsb=c.acc_lsb, bits=c.prod_bits, name=f"l{j}")
            terms.append(t)
            flags.append((fl[0], fl[1], fl[2]))
            if has4 and a8_fmts:  # the second weight of a byte (4-bit weights x 8-bit acts)
                who = decode_operand(m, nib[2 * j + 1], wcode,
                                     {f: v for f, v in wfm.items() if BITS[f] == 4},
                                     name=f"h{j}w")
                aho = decode_operand(m, act8[2 * j + 1], acode, a8_fmts, name=f"h{j}a")
                hi, *hf = lane_product(m, who, aho, lsb=c.acc_lsb, bits=c.prod_bits,
                                       name=f"h{j}")
                terms.append(Mux(two_per_byte, hi, 0))
                flags.append((hf[0] & two_per_byte, hf[1] & two_per_byte,
                              hf[2] & two_per_byte))
        dot = Signal(signed(c.acc_bits), name="dot")
        m.d.comb += dot.eq(adder_tree(terms, c.acc_bits))
        # special-value class of the dot product: any NaN, any +inf, any -inf product
        dot_f = [Signal(name=f"dot_{n}") for n in ("nan", "pinf", "ninf")]
        m.d.comb += [d.eq(Cat(*(f[i] for f in flags)).any()) for i, d in enumerate(dot_f)]
        accs = Array(Signal(signed(c.acc_bits), name=f"acc{t}") for t in range(c.max_tokens))
        acc_f = [Array(Signal(name=f"acc{t}_{n}") for t in range(c.max_tokens))
                 for n in ("nan", "pinf", "ninf")]
        new = Signal(signed(c.acc_bits), name="new")
        new_f = [Signal(name=f"new_{n}") for n in ("nan", "pinf", "ninf")]
        m.d.comb += new.eq(Mux(s1_first, 0, accs[s1_tok]) + dot)
        m.d.comb += [nf.eq(Mux(s1_first, 0, af_[s1_tok]) | df)
                     for nf, af_, df in zip(new_f, acc_f, dot_f, strict=True)]

        # ---- stage 2: output register; the rounding reads it
        s2_acc = Signal(signed(c.acc_bits), name="s2_acc")
        s2_f = [Signal(name=f"s2_{n}") for n in ("nan", "pinf", "ninf")]
        s2_int, s2_last = Signal(name="s2_int"), Signal(name="s2_last")
        s2_tok = Signal(range(c.max_tokens), name="s2_tok")
        with m.If(adv):
            m.d.sync += s2_valid.eq(s1_valid & s1_last)
            with m.If(s1_valid):
                m.d.sync += [accs[s1_tok].eq(new), s2_acc.eq(new), s2_int.eq(is_int),
                             s2_tok.eq(s1_tok), s2_last.eq(s1_lasttok)]
                m.d.sync += [a_[s1_tok].eq(nf) for a_, nf in zip(acc_f, new_f, strict=True)]
                m.d.sync += [sf.eq(nf) for sf, nf in zip(s2_f, new_f, strict=True)]
        value = Signal(32, name="value")
        has_int = any(f in wf for f in _INT) and "int8" in af
        has_float = any(not PimUnitConfig.int_output(w, a) for w, a in c.pairs)
        int_val = Signal(32, name="int_value")
        if has_int:
            m.d.comb += int_val.eq(s2_acc >> -c.acc_lsb)
        if has_float:
            # NaN: a NaN product or +inf and -inf together; else an infinite product wins
            nan_o, inf_o = Signal(name="out_nan"), Signal(name="out_inf")
            m.d.comb += [nan_o.eq(s2_f[0] | (s2_f[1] & s2_f[2])), inf_o.eq(s2_f[1] | s2_f[2])]
            fl = round_to_float(m, s2_acc, lsb=c.acc_lsb, fmt="float32", nan=nan_o, name="rf")
            flv = Mux(inf_o & ~nan_o, Cat(Const(0, 23), Const(0xFF, 8), s2_f[2]), fl)
            m.d.comb += value.eq(Mux(s2_int, int_val, flv) if has_int else flv)
        else:
            m.d.comb += value.eq(int_val)
        m.d.comb += [self.o.valid.eq(s2_valid), self.o.payload.value.eq(value),
                     self.o.payload.token.eq(s2_tok), self.o.payload.last.eq(s2_last)]
        return m
