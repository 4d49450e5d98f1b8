"""``LogicPIMUnit``: a Duplex-style GEMV / skinny-GEMM / attention-score unit on the HBM logic die.

It serves one pseudo-channel: weight (or K-cache) data arrives as DRAM bursts on a wide stream
``w`` of ``banks * burst_bits`` bits (one bank bundle read in parallel). An activation buffer
holds up to ``max_tokens`` INT8 vectors (tokens, or the query heads of one GQA group). Every
cycle the unit multiplies the current beat by one token's activations in ``lanes`` reconfigurable
shift-and-add lanes (no multiplier) and accumulates; a beat is consumed after the last token, so
one weight byte feeds ``tokens`` MACs (the Op/B knob of Duplex).

Ports
-----
``mode`` (2 bits, stable during a job): 0 ``gemv_int4`` (two INT4 weights per lane),
1 ``gemv_int8``, 2 ``attn_int8`` (q . K^T over streamed K rows, softmax-free: the INT8
datapath with keys as the streamed operand). ``tokens`` (1..max_tokens), ``k_words``
(activation words per token, 1..max_k_words). ``act``: buffer writes ``{addr, data}`` with
``addr = token * max_k_words + word``, one word = ``width / 4`` INT8 values. ``w``: weight beats
in column order; column n holds K consecutive weights (INT4: element e at bits 4e..4e+3;
INT8: byte e); each column spans ``k_words`` (INT4) or ``2 * k_words`` (INT8) beats.
``o``: ``{value, token, last}`` one cycle after a column's last beat for each token
(``last`` on the last token); no back-pressure.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from mixforge.errors import ConfigError
from mixforge.hw.pim.config import PimConfig

__all__ = ["LogicPIMUnit"]


def _nibble_times(m: Module, w: Value, a: Value, *, top_negative: Value, name: str) -> Signal:
    """4-bit weight ``w`` times signed INT8 ``a`` by shifted adds; bit 3 weighs -8 or +8."""
    out = Signal(signed(13), name=name)
    a_s = a.as_signed()
    pp = [Mux(w[i], a_s << i, 0) for i in range(3)]
    top = Mux(w[3], Mux(top_negative, -(a_s << 3), a_s << 3), 0)
    m.d.comb += out.eq(pp[0] + pp[1] + pp[2] + top)
    return out


class LogicPIMUnit(wiring.Component):
    """One logic-die processing unit (all parameters keyword-only, see :class:`PimConfig`)."""

    def __init__(self, *, config: PimConfig):
        if not isinstance(config, PimConfig):
            raise ConfigError(f"must be a PimConfig, not {type(config).__name__}",
                              path="config")
        self._cfg = c = config
        depth = c.max_tokens * c.max_k_words
        super().__init__({
            "mode": In(2),
            "tokens": In(range(c.max_tokens + 1)),
            "k_words": In(range(c.max_k_words + 1)),
            "act": In(stream.Signature(data.StructLayout({
                "addr": range(depth), "data": unsigned(c.word_acts * 8)}))),
            "w": In(stream.Signature(unsigned(c.width))),
            "o": Out(wiring.Signature({"payload": Out(data.StructLayout({
                "value": signed(c.acc_bits), "token": range(c.max_tokens), "last": 1})),
                "valid": Out(1)})),
        })

    @property
    def config(self) -> PimConfig:
        return self._cfg

    @property
    def latency(self) -> int:
        """Cycles from a column's last beat to its first result."""
        return 1

    @property
    def throughput(self) -> float:
        """Peak INT8-equivalent MACs per cycle (INT4 mode: twice this)."""
        return float(self._cfg.lanes)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        c = self._cfg
        mem = memory.Memory(shape=unsigned(c.word_acts * 8), depth=c.max_tokens * c.max_k_words,
                            init=[])
        m.submodules.act_mem = mem
        wr = mem.write_port()
        rd = mem.read_port(domain="comb")
        m.d.comb += [self.act.ready.eq(1), wr.addr.eq(self.act.payload.addr),
                     wr.data.eq(self.act.payload.data), wr.en.eq(self.act.valid)]

        tok = Signal(range(c.max_tokens), name="tok")
        beat = Signal(range(2 * c.max_k_words), name="beat")
        is4 = Signal(name="is4")
        half = Signal(name="half")
        bpc = Signal(range(2 * c.max_k_words + 1), name="beats_per_col")
        last_tok = Signal(name="last_tok")
        last_beat = Signal(name="last_beat")
        m.d.comb += [
            is4.eq(self.mode == 0),
            bpc.eq(Mux(is4, self.k_words, self.k_words << 1)),
            last_tok.eq(tok == self.tokens - 1),
            last_beat.eq(beat == bpc - 1),
            half.eq(~is4 & beat[0]),
            rd.addr.eq(tok * c.max_k_words + Mux(is4, beat, beat >> 1)),
            self.w.ready.eq(last_tok),
        ]
        word = rd.data
        act = [word[8 * e: 8 * e + 8] for e in range(c.word_acts)]
        lanes: list[Value] = []
        for j in range(c.lanes):
            wb = self.w.payload[8 * j: 8 * j + 8]
            a8 = Mux(half, act[c.lanes + j], act[j])
            a_lo = Mux(is4, act[2 * j], a8)
            a_hi = Mux(is4, act[2 * j + 1], a8)
            lo = _nibble_times(m, wb[0:4], a_lo, top_negative=is4, name=f"lo{j}")
            hi = _nibble_times(m, wb[4:8], a_hi, top_negative=1, name=f"hi{j}")
            lanes.append(lo + Mux(is4, hi, hi << 4))
        dot = Signal(signed(c.acc_bits), name="dot")
        total: Value = lanes[0]
        for lane in lanes[1:]:
            total = total + lane
        m.d.comb += dot.eq(total)

        accs = Array(Signal(signed(c.acc_bits), name=f"acc{t}") for t in range(c.max_tokens))
        new = Signal(signed(c.acc_bits), name="new")
        m.d.comb += new.eq(Mux(beat == 0, 0, accs[tok]) + dot)
        m.d.sync += self.o.valid.eq(0)
        with m.If(self.w.valid):
            m.d.sync += accs[tok].eq(new)
            with m.If(last_beat):
                m.d.sync += [self.o.valid.eq(1), self.o.payload.value.eq(new),
                             self.o.payload.token.eq(tok), self.o.payload.last.eq(last_tok)]
            with m.If(last_tok):
                m.d.sync += [tok.eq(0), beat.eq(Mux(last_beat, 0, beat + 1))]
            with m.Else():
                m.d.sync += tok.eq(tok + 1)
        return m
