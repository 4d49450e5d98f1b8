"""``PEArray``: an R x C systolic array, weight- or output-stationary, with its own sequencer.

Streams (``amaranth.lib.stream``; a beat moves when ``valid & ready``):

* WS. ``w``: one row of C weight patterns per beat; R beats fill a bank (the first beat ends up
  in the bottom row R-1, the last in row 0). ``a``: ``data`` = R activation patterns (element
  i is K-index i of the fold), ``last`` marks the fold's final row. ``o``: one row of C partial
  sums per streamed activation row, in order (``last`` on a fold's final row).
* WS with MixPE group dequantization (``dequant``, ``hw/array/ws_edge.py``). ``w`` beats also
  carry the fold's C float16 ``scale`` and int8 ``zero`` patterns and ``last`` (the fold is the
  output tile's final K-fold; the values of the fold's final weight beat count). A fold closes
  its group after ``ceil(group / R)`` folds or at ``last``. Per streamed row the bottom edge
  accumulates the C partial sums and the row's ``sum(a)`` (an adder tree at the left edge)
  into ``acc_depth``-deep memories indexed by the row's position in the fold, dequantizes each
  column once per group (``dequant_term``) into an exact accumulator memory, and on the tile's
  final K-fold sends the rounded float row on ``o`` (``last`` on its final row). Folds stream
  at most ``acc_depth`` rows; K-padding rows of a fold must carry zero activations.
* WS with a rounding edge (``dequant_first``, ``fp16_mac``, ``multiformat`` and kinds with the
  same cell hooks, ``hw/array/ws_round_edge.py``). ``w`` beats (:meth:`ArrayConfig.w_fields`)
  carry, beside the C weights, the row's own per-column fields (``dequant_first``: ``zero``,
  ``sm``, ``tscale``; ``fp16_mac``: ``scale``, ``zero``; ``multiformat``: the 2-bit ``mode``)
  and ``last`` (the fold is its output tile's final K-fold; the fold's final beat counts).
  Weights are converted as they enter (``sat_int8((w - z) * sm)``, ``float16(s * (w - z))``,
  or decoded in the beat's mode); each bank keeps its fold's ``last``, tensor scales and mode,
  and the activations streamed against a bank are decoded in its mode at the left edge (the
  mode travels on the weight stream only; switching it between GEMMs / tiles is free). The
  cells' exact partial sums (and NaN / NaR flags) of each streamed row are added per column
  into an ``acc_depth``-deep exact accumulator memory indexed by the row's position in the fold;
  on the tile's final K-fold the sum is rounded once by the same units as the OS edge
  (``_edge_round`` / ``_edge_tscale``) and the row leaves on ``o`` (``last`` on its final row).
  Folds stream at most ``acc_depth`` rows; K-padding rows carry zero weights and fields.
* OS. ``x``: ``a`` = R activations (row i = M-index i), ``b`` = C weights (column j = N-index
  j), ``last`` on the fold's K-th beat. ``o``: after the fold, R rows of C results, row R-1
  first (``last`` on row 0). With its fold's final beat each cell moves its sum into a shadow
  output register and starts the next fold from zero; the shadow registers drain down their
  column (row i moves only in the drain's first i cycles) while the next fold computes.
* OS with MixPE group dequantization (``dequant``). ``x`` also carries the C float16 ``scale``
  and int8 ``zero`` patterns of the beat's group (the values given with a group's final beat
  count); a fold ends after ``group`` beats or at ``last``, which ends the output tile: only then
  do R rows of C float results leave on ``o``. The edge of each column holds the dequant unit
  (:func:`mixforge.hw.pe.dequant.dequant_term`, shared with ``ShiftAddPE``) and an R-deep exact
  accumulator (a rotating shift register: rows always drain in the same order); ``sum(a)`` of
  each row comes from one extra column of adders beside column 0, shared by all columns.
* OS dequantize-first baseline (``pe="dequant_first"``). ``x`` also carries per-column
  ``zero``, ``sm`` (uint8 scale multiplier) and ``tscale`` (float16, the final beat's counts);
  one fold per tile (``last``); results are float patterns.
* OS multiformat cells (``pe="multiformat"``, XR-NPE ``MultiFormatMAC``). ``a`` / ``b`` are
  16-bit SIMD words, ``x`` also carries the 2-bit run-time ``mode`` (``models.pe.MODES``
  order; hold it for a whole tile: the words are decoded in it at the left / top edge, once per
  operand, by the MAC's own lane decoders, and the mode travels with the activations). Each
  cell adds the exact sum of its word pair's L lane products (the MAC's mode-split multiplier
  and quire alignment) into a ``114 + clog2(max_k)``-bit accumulator (LSB 2**-56); the bottom
  of each column rounds once into ``out``. One fold per tile over ``ceil(K / L)`` beats.
* OS multiformat baselines (``pe="shared_quire"``: ``SharedQuireMAC``, ``pe="separate_macs"``:
  ``SeparateMacsMAC``): ports, mode, tiling and timing as ``multiformat``. The edge decodes with
  per-format lane decoders (eleven lanes, ``cells.SQ_DECODED_BITS``). ``shared_quire`` cells
  have one ``*`` multiplier / aligner per format and lane and mux the active format's sum into
  one quire accumulator (same function and rounding edge as ``multiformat``).
  ``separate_macs`` cells hold one complete MAC per format with its own accumulator (sized for
  ``max_k`` words, capped at ``models.pe.SEPARATE_ACC``; the cell register packs the four, their
  NaR flags and the latest beat's mode); only the beat's format accumulates; the bottom of each
  column rounds every format's accumulator once (``SeparateMacsMAC``'s readouts) and muxes the
  one of the mode of the fold's last beat (``models.pe.separate_macs_mac``). Both baselines
  also run WS (``ws_round_edge.py``): ``separate_macs`` cells add their term into the row's
  mode's segment of the packed partial sum (``_acc_add``), the edge memory holds the packed
  per-format accumulators and the readout takes the mode of the tile's last K-fold.
* OS FP16-MAC baseline (``pe="fp16_mac"``). ``x`` also carries per-column float16 ``scale``
  and int8 ``zero``; each weight becomes ``float16(s * (w - z))`` as it enters its column,
  the cells multiply FP16 x FP16 (``*``) and accumulate exactly; one rounding per output.

Both dataflows skew their inputs internally (row i / column j delayed i / j cycles) and de-skew
the outputs, so a whole output row leaves in one beat. ``o`` has no back-pressure.

The sequencer gives exactly the schedule of :class:`mixforge.hw.specs.ArraySpec` when the
inputs are always valid: WS reloads a bank only once the fold that used it produced its last
row at the array's bottom (with ``double_buffer`` the other bank loads meanwhile); OS takes a
fold's beats back to back with the previous fold's and holds only its final beat (``ready``
low while ``last`` / the group's end is offered) until R cycles after the previous final beat,
when every column's shadow registers are free again. Edge units (dequant, rounding) are
pipelines that accept a row every cycle (OS: at most R rows per R cycles); the per-fold values
they need (OS scales, zero points, tensor scales) wait in a small FIFO until the fold's rows
arrive. Their latency overlaps the next fold and never stalls it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from mixforge.errors import ConfigError
from mixforge.hw.array.cells import (
    POSIT8_DECODED_BITS,
    fixed_to_posit8,
    fp16_mac_term,
    fp16_weight_dequant,
    mf_decoded_bits,
    multiformat_decode_packed,
    multiformat_term,
    posit8_decode_packed,
    posit8_product_decoded,
    separate_macs_add,
    separate_macs_readout,
    separate_macs_term,
)
from mixforge.hw.array.config import ArrayConfig
from mixforge.hw.pe.arith import (
    enabled_stage,
    fp16_to_fixed,
    round_to_float,
    round_to_posit_lean,
    shift_add_product,
)
from mixforge.hw.pe.dequant import dequant_term, fp16_scaled
from mixforge.hw.specs.array import ArraySpec

__all__ = ["PEArray"]


class PEArray(wiring.Component):
    """R x C PE array generated from an :class:`ArrayConfig` (all parameters keyword-only).

    Parameters
    ----------
    config
        Size, dataflow, double buffering, cell type and widths.
    """

    def __init__(self, *, config: ArrayConfig):
        if not isinstance(config, ArrayConfig):
            raise ConfigError(f"must be an ArrayConfig, not {type(config).__name__}",
                              path="config")
        self._cfg = config
        r, c = config.rows, config.cols
        wl = data.ArrayLayout(unsigned(config.weight_bits), c)
        al = data.ArrayLayout(unsigned(config.act_bits), r)
        out_shape = unsigned(config.out_bits) if (config.float_out or config.pe == "posit8"
                                                  and config.dataflow == "os") else \
            signed(config.out_bits)
        out_fields: dict[str, object] = {"data": data.ArrayLayout(out_shape, c), "last": 1}
        if config.has_nar:
            out_fields["nar"] = c
        members: dict[str, object] = {
            # no back-pressure on the results: a plain valid + payload pair
            "o": Out(wiring.Signature({"payload": Out(data.StructLayout(out_fields)),
                                       "valid": Out(1)}))}
        if config.dataflow == "ws":
            members["w"] = In(stream.Signature(wl if not config.dequant else data.StructLayout(
                {"data": wl, "scale": data.ArrayLayout(16, c), "zero": data.ArrayLayout(8, c),
                 "last": 1})) if not config.ws_round else stream.Signature(data.StructLayout(
                {name: 1 if name == "last" else data.ArrayLayout(unsigned(bits), n)
                 for name, bits, n in config.w_fields()})))
            members["a"] = In(stream.Signature(data.StructLayout({"data": al, "last": 1})))
        else:
            members["x"] = In(stream.Signature(data.StructLayout(
                {name: 1 if name == "last" else data.ArrayLayout(unsigned(bits), n)
                 for name, bits, n in config.x_fields()})))
        super().__init__(members)

    @property
    def config(self) -> ArrayConfig:
        return self._cfg

    @property
    def spec(self) -> ArraySpec:
        """The timing contract (``gemm_cycles``, ``schedule``) the RTL is verified against."""
        return self._cfg.spec

    @property
    def latency(self) -> int:
        """Cycles from a lone fold's first input to its last output, for stream length 1."""
        return self.spec.fold_latency(1)

    @property
    def throughput(self) -> float:
        """Peak MACs per cycle (R * C)."""
        return float(self._cfg.rows * self._cfg.cols)

    # ------------------------------------------------------------------------------------
    def _operand_bits(self, raw_bits: int) -> int:
        """Width of an operand inside the array (posit8 operands travel decoded; the
        dequantize-first baseline's weights travel as INT8)."""
        if self._cfg.pe == "dequant_first":
            return 8
        if self._cfg.mode_words:  # multiformat and its baselines (per-format lanes)
            return mf_decoded_bits(self._cfg.pe == "multiformat")
        if self._cfg.act == "fp16" and raw_bits == self._cfg.act_bits:  # fixed point + flag
            return self._cfg.act_fixed_bits + 1
        return POSIT8_DECODED_BITS if self._cfg.pe == "posit8" else raw_bits

    def _decode(self, m: Module, x: Value, name: str, mode: Value | None = None) -> Value:
        """Edge decoding: once per operand, not once per cell. ``mode``: the operand's run-time
        mode (WS: from the weight stream); ``None``: the OS ``x`` beat's."""
        if self._cfg.pe == "posit8":
            return posit8_decode_packed(m, x, name=name)
        if self._cfg.mode_words:  # OS: in the mode of the beat (held for a tile)
            return multiformat_decode_packed(m, x, self.x.payload.mode[0] if mode is None
                                             else mode, shared=self._cfg.pe == "multiformat",
                                             name=name)
        if self._cfg.act == "fp16" and len(x) == 16:  # W4A16 activation -> ShiftAddPE's afx
            afx, nonfinite = fp16_to_fixed(m, x, name=f"{name}_fx")
            return Cat(afx, nonfinite)  # act_fixed_bits + 1 bits: travels packed
        return x

    def _product(self, m: Module, w: Value, a: Value, name: str) -> tuple[Value, Value]:
        cfg = self._cfg
        if cfg.pe == "posit8":
            return posit8_product_decoded(m, a, w, name=name)
        if cfg.pe == "separate_macs":  # every format's MAC term, packed (see cells.py)
            return separate_macs_term(m, a, w, seg_bits=cfg.separate_seg_bits, name=name)
        if cfg.mode_words:  # L lane products summed, a quire-aligned term
            return multiformat_term(m, a, w, shared=cfg.pe == "multiformat", name=name)
        if cfg.pe == "fp16_mac":  # the baseline: an FP16 x FP16 multiplier
            return fp16_mac_term(m, w, a, name=name)
        prod = Signal(signed(cfg.prod_bits), name=f"{name}_prod")
        if cfg.pe == "dequant_first":  # the baseline: an INT8 x INT8 multiplier
            m.d.comb += prod.eq(w[:8].as_signed() * a[:cfg.a_bits].as_signed())
        else:  # MixPE: shifted copies of the activation (fp16: of afx), no multiplier
            m.d.comb += prod.eq(shift_add_product(w[:cfg.w_bits],
                                                  a[:cfg.act_fixed_bits].as_signed()))
        return prod, Signal(name=f"{name}_nonar")

    def _acc_add(self, acc: Value, prod: Value) -> Value:
        """A cell's accumulate (OS; WS: partial sum in + term; the WS edge's memory word +
        partial sum): ``acc + prod``; ``separate_macs``: the beat's format's own accumulator
        only (``cells.separate_macs_add``)."""
        if self._cfg.pe == "separate_macs":
            return separate_macs_add(acc, prod, self._cfg.separate_seg_bits)
        return acc + prod

    @staticmethod
    def _delay(m: Module, sig: Value, n: int, name: str) -> Value:
        """``sig`` delayed by ``n`` register stages."""
        for s in range(n):
            r = Signal.like(sig, name=f"{name}_d{s}") if isinstance(sig, Signal) else \
                Signal(len(sig), name=f"{name}_d{s}")
            m.d.sync += r.eq(sig)
            sig = r
        return sig

    def elaborate(self, platform: object) -> Module:
        m = Module()
        if self._cfg.dataflow == "ws":
            self._elaborate_ws(m)
        else:
            self._elaborate_os(m)
        return m

    def _emit(self, m: Module, cols: list[tuple[Value, Value, Value, Value]]) -> list[Value]:
        """De-skew the per-column outputs (data, nar, valid, last); without edge units drive
        stream ``o`` with them. Returns the de-skewed data (one row per cycle)."""
        c = self._cfg.cols
        rows = [self._delay(m, d, c - 1 - j, f"o{j}") for j, (d, _, _, _) in enumerate(cols)]
        if self._cfg.float_out:
            return rows
        for j, (_, nar, _, _) in enumerate(cols):
            m.d.comb += self.o.payload.data[j].eq(rows[j])
            if self._cfg.has_nar:
                m.d.comb += self.o.payload.nar[j].eq(self._delay(m, nar, c - 1 - j, f"on{j}"))
        m.d.comb += [self.o.valid.eq(cols[-1][2]), self.o.payload.last.eq(cols[-1][3])]
        return rows

    # ------------------------------------------------------------------------------------
    def _elaborate_ws(self, m: Module) -> None:
        cfg = self._cfg
        r, c = cfg.rows, cfg.cols
        banks = 2 if cfg.double_buffer else 1
        edge = cfg.ws_round  # rounding-edge kinds: hw/array/ws_round_edge.py
        wfields = [f[0] for f in cfg.w_fields()] if edge else []
        w_data = self.w.payload.data if cfg.dequant or edge else self.w.payload
        w_dec = [self._ws_weight_in(m, w_data[j], j) for j in range(c)]
        wb = len(w_dec[0])
        wreg = [[[Signal(wb, name=f"w{b}_{i}_{j}") for j in range(c)] for i in range(r)]
                for b in range(banks)]
        # ---- sequencer
        load_bank = Signal(name="load_bank")
        stream_bank = Signal(name="stream_bank")
        load_cnt = Signal(range(max(r, 2)), name="load_cnt")
        full = Signal(banks, name="full")
        busy = [Signal(range(r + c), name=f"busy{b}") for b in range(banks)]
        lb_full = Mux(load_bank, full[-1], full[0])
        lb_busy = Mux(load_bank, busy[-1], busy[0]) != 0
        m.d.comb += [self.w.ready.eq(~lb_full & ~lb_busy),
                     self.a.ready.eq(Mux(stream_bank, full[-1], full[0]))]
        w_fire = self.w.valid & self.w.ready
        a_fire = self.a.valid & self.a.ready
        # MixPE edge dequant: each bank also holds its fold's C scales / zero points and the
        # "tile's final K-fold" flag (the values of the fold's final weight beat count)
        q_scale = [[Signal(16, name=f"qs{b}_{j}") for j in range(c)] for b in range(banks)]
        q_zero = [[Signal(8, name=f"qz{b}_{j}") for j in range(c)] for b in range(banks)]
        q_tend = [Signal(name=f"qt{b}") for b in range(banks)]
        # rounding-edge kinds: the bank's tile-end flag, tensor scales (dequant_first) and
        # run-time mode (multiformat: the activations streamed against the bank decode in it)
        q_ts = [[Signal(16, name=f"qts{b}_{j}") for j in range(c)]
                for b in range(banks)] if "tscale" in wfields else []
        q_mode = [Signal(2, name=f"qm{b}") for b in range(banks)] if "mode" in wfields else []
        for b in range(banks):
            with m.If(w_fire & (load_bank == b)):
                if edge:
                    m.d.sync += q_tend[b].eq(self.w.payload.last)
                if q_ts:
                    m.d.sync += [q_ts[b][j].eq(self.w.payload.tscale[j]) for j in range(c)]
                if q_mode:
                    m.d.sync += q_mode[b].eq(self.w.payload.mode[0])
                if cfg.dequant:
                    m.d.sync += q_tend[b].eq(self.w.payload.last)
                    m.d.sync += [q_scale[b][j].eq(self.w.payload.scale[j]) for j in range(c)]
                    m.d.sync += [q_zero[b][j].eq(self.w.payload.zero[j]) for j in range(c)]
                for j in range(c):
                    m.d.sync += wreg[b][0][j].eq(w_dec[j])
                    for i in range(1, r):
                        m.d.sync += wreg[b][i][j].eq(wreg[b][i - 1][j])
            with m.If(a_fire & self.a.payload.last & (stream_bank == b)):
                m.d.sync += busy[b].eq(r + c - 2)
            with m.Elif(busy[b] != 0):
                m.d.sync += busy[b].eq(busy[b] - 1)
        with m.If(w_fire):
            with m.If(load_cnt == r - 1):
                m.d.sync += [load_cnt.eq(0), full.bit_select(load_bank, 1).eq(1)]
                if banks == 2:
                    m.d.sync += load_bank.eq(~load_bank)
            with m.Else():
                m.d.sync += load_cnt.eq(load_cnt + 1)
        with m.If(a_fire & self.a.payload.last):
            m.d.sync += full.bit_select(stream_bank, 1).eq(0)
            if banks == 2:
                m.d.sync += stream_bank.eq(~stream_bank)
        # ---- activation skew: row i delayed i cycles, with valid / last / bank
        ab = self._operand_bits(cfg.act_bits)
        left: list[tuple[Value, Value, Value, Value]] = []
        a_decs: list[Value] = []
        for i in range(r):
            a_dec = self._decode(m, self.a.payload.data[i], f"ad{i}",
                                 mode=Mux(stream_bank, q_mode[-1], q_mode[0]) if q_mode else None)
            a_decs.append(a_dec)
            left.append((self._delay(m, a_dec, i, f"sa{i}"),
                         self._delay(m, a_fire, i, f"sv{i}"),
                         self._delay(m, self.a.payload.last, i, f"sl{i}"),
                         self._delay(m, stream_bank, i, f"sb{i}")))
        # ---- the grid
        pw = cfg.acc_bits  # rounding-edge kinds: R exact terms per fold, the edge wraps
        if edge and cfg.pe != "separate_macs":  # separate_macs: the packed register, as OS
            pw = min(pw, cfg.prod_bits + max(r - 1, 0).bit_length())
        cols_out: list[tuple[Value, Value, Value, Value]] = []
        up: list[tuple[Value, Value]] = [(Const(0, signed(pw)), Const(0, 1)) for _ in range(c)]
        for i in range(r):
            a_in, v_in, l_in, b_in = left[i]
            for j in range(c):
                wsel = wreg[0][i][j] if banks == 1 else Mux(b_in, wreg[1][i][j], wreg[0][i][j])
                prod, pnar = self._product(m, wsel, a_in, f"p{i}_{j}")
                psum_in, nar_in = up[j]
                psum = Signal(signed(pw), name=f"s{i}_{j}")
                nar = Signal(name=f"n{i}_{j}")
                m.d.comb += [psum.eq(self._acc_add(psum_in, prod)), nar.eq(nar_in | pnar)]
                if i < r - 1:
                    ps_r = Signal(signed(pw), name=f"sr{i}_{j}")
                    nar_r = Signal(name=f"nr{i}_{j}")
                    m.d.sync += [ps_r.eq(psum), nar_r.eq(nar)]
                    up[j] = (ps_r, nar_r)
                else:
                    cols_out.append((Cat(psum, nar) if edge else psum, nar, v_in, l_in))
                    edge_bank = b_in
                if j < c - 1:  # pass the activation (and its tags) right
                    regs = (Signal(ab, name=f"ar{i}_{j}"), Signal(name=f"vr{i}_{j}"),
                            Signal(name=f"lr{i}_{j}"), Signal(name=f"br{i}_{j}"))
                    m.d.sync += [regs[0].eq(a_in), regs[1].eq(v_in), regs[2].eq(l_in),
                                 regs[3].eq(b_in)]
                    a_in, v_in, l_in, b_in = regs
        rows = self._emit(m, cols_out)
        if cfg.dequant:
            from mixforge.hw.array.ws_edge import ws_dequant_edge

            # sum(a) of each streamed row (zero points), timed to meet the row at the edge
            asum, anan = self._ws_row_act(m, a_decs)
            ws_dequant_edge(m, cfg=cfg, rows=rows, asum=self._delay(m, asum, r + c - 2, "asum"),
                            valid=cols_out[-1][2], last=cols_out[-1][3], bank=edge_bank,
                            scale=q_scale, zero=q_zero, tend=q_tend, o=self.o,
                            nan=None if anan is None else self._delay(m, anan, r + c - 2, "anan"))
        if edge:
            from mixforge.hw.array.ws_round_edge import ws_round_edge

            ws_round_edge(self, m, rows=rows, psum_bits=pw, valid=cols_out[-1][2],
                          last=cols_out[-1][3], bank=edge_bank, tend=q_tend, tscale=q_ts)

    def _ws_weight_in(self, m: Module, w: Value, j: int) -> Value:
        """WS: weight ``j`` of a ``w`` beat as it enters the array (top edge): decoded
        (``_decode``, multiformat in the beat's ``mode``), or for the dequantize-first baselines
        dequantized with the beat's per-column fields (``sat_int8((w - z) * sm)``,
        ``float16(s * (w - z))``)."""
        cfg = self._cfg
        p = self.w.payload
        if cfg.ws_round and cfg.pe == "dequant_first":
            return self._dequant_weight(m, w, p.zero[j], p.sm[j], f"wq{j}")
        if cfg.ws_round and cfg.pe == "fp16_mac":
            return fp16_weight_dequant(m, w, p.zero[j], p.scale[j], name=f"wf{j}")
        mode = p.mode[0] if cfg.ws_round and any(f[0] == "mode" for f in cfg.w_fields()) \
            else None
        return self._decode(m, w, f"wd{j}", mode=mode)

    def _ws_row_act(self, m: Module, a_decs: list[Value]) -> tuple[Signal, Value | None]:
        """WS dequant: ``sum(a)`` of a streamed row (adder tree over the R decoded activations:
        integers, or FP16 as fixed point at 2**-24) and, for ``act: fp16``, the row's Inf/NaN
        flag (OR of the R activations' non-finite bits)."""
        cfg = self._cfg
        axb = cfg.act_fixed_bits
        asum = Signal(signed(axb + max(cfg.rows - 1, 0).bit_length()), name="asum_in")
        m.d.comb += asum.eq(sum(a[:axb].as_signed() for a in a_decs))
        if cfg.act != "fp16":
            return asum, None
        anan = Signal(name="anan_in")
        m.d.comb += anan.eq(Cat(*(a[axb] for a in a_decs)).any())
        return asum, anan

    # ------------------------------------------------------------------------------------
    def _elaborate_os(self, m: Module) -> None:
        cfg = self._cfg
        r, c = cfg.rows, cfg.cols
        p = self.x.payload
        fend: Value = p.last  # the fold's final beat
        if cfg.dequant:  # a fold is one quantization group: `group` beats, or up to `last`
            cnt = Signal(range(max(cfg.group, 2)), name="grp_cnt")
            fend = Signal(name="fend")
            m.d.comb += fend.eq(p.last | (cnt == cfg.group - 1))
        # A column's shadow registers take a fold's results only once the previous fold's
        # have left it (R cycles of drain): a fold's final beat waits until R cycles after
        # the previous fold's final beat; every other beat is taken at once.
        gap = Signal(range(r + 1), name="gap")
        m.d.comb += self.x.ready.eq(~(fend & (gap != 0)))
        fire = self.x.valid & self.x.ready
        if cfg.dequant:
            with m.If(fire):
                m.d.sync += cnt.eq(Mux(fend, 0, cnt + 1))
        with m.If(fire & fend):
            m.d.sync += gap.eq(r - 1)
        with m.Elif(gap != 0):
            m.d.sync += gap.eq(gap - 1)
        top_in = [self._decode(m, p.b[j], f"bd{j}") for j in range(c)]
        if cfg.pe == "dequant_first":  # weights become INT8 once, at the column's top edge
            top_in = [self._dequant_weight(m, p.b[j], p.zero[j], p.sm[j], f"wq{j}")
                      for j in range(c)]
        elif cfg.pe == "fp16_mac":  # weights become float16(s * (w - z)) at the top edge
            top_in = [fp16_weight_dequant(m, p.b[j], p.zero[j], p.scale[j], name=f"wf{j}")
                      for j in range(c)]
        left = [(self._delay(m, self._decode(m, p.a[i], f"ad{i}"), i, f"sa{i}"),
                 self._delay(m, fire, i, f"sv{i}"),
                 self._delay(m, fend, i, f"sl{i}")) for i in range(r)]
        top = [self._delay(m, top_in[j], j, f"sb{j}") for j in range(c)]
        aw = cfg.acc_bits
        acc = [[Signal(signed(aw), name=f"acc{i}_{j}") for j in range(c)] for i in range(r)]
        accn = [[Signal(name=f"accn{i}_{j}") for j in range(c)] for i in range(r)]
        # shadow output registers: a fold's result (and NaN/NaR flag), drained down the column
        # while the accumulators already take the next fold
        sh = [[Signal(signed(aw), name=f"sh{i}_{j}") for j in range(c)] for i in range(r)]
        shn = [[Signal(name=f"shn{i}_{j}") for j in range(c)] for i in range(r)]
        drain = [Signal(range(r + 1), name=f"drain{j}") for j in range(c)]
        # MixPE: one column of adders beside column 0 sums each row's activations (zero point)
        axb = cfg.act_fixed_bits
        asum = [Signal(signed(axb + max(cfg.group - 1, 0).bit_length()),
                       name=f"asum{i}") for i in range(r)] if cfg.dequant else []
        asum_sh = [Signal.like(x, name=f"asum_sh{i}") for i, x in enumerate(asum)]
        # act fp16: beside it a sticky per-row Inf/NaN flag (shifted out with the sums)
        anan = [Signal(name=f"anan{i}") for i in range(r)] if cfg.act == "fp16" else []
        anan_sh = [Signal(name=f"anan_sh{i}") for i in range(len(anan))]
        cols_out: list[tuple[Value, Value, Value, Value]] = []
        for i in range(r):
            a_in, v_in, l_in = left[i]
            if asum:
                self._os_capture(m, v_in, l_in, drain[0] > r - i,
                                 [(asum[i], asum_sh[i], asum[i] + a_in[:axb].as_signed(),
                                   asum_sh[i - 1] if i else None)]
                                 + ([(anan[i], anan_sh[i], anan[i] | a_in[axb],
                                      anan_sh[i - 1] if i else None)] if anan else []))
            for j in range(c):
                b_in = top[j]
                prod, pnar = self._product(m, b_in, a_in, f"p{i}_{j}")
                # row i's shadow moves down only in the first i cycles of the column's drain,
                # so it is free for the next fold's result R cycles after this fold's
                self._os_capture(m, v_in, l_in, drain[j] > r - i, [
                    (acc[i][j], sh[i][j], self._acc_add(acc[i][j], prod),
                     sh[i - 1][j] if i else None),
                    (accn[i][j], shn[i][j], accn[i][j] | pnar, shn[i - 1][j] if i else None)])
                if i < r - 1:
                    b_r = Signal(len(b_in), name=f"br{i}_{j}")
                    m.d.sync += b_r.eq(b_in)
                    top[j] = b_r
                else:
                    with m.If(v_in & l_in):
                        m.d.sync += drain[j].eq(r)
                    with m.Elif(drain[j] != 0):
                        m.d.sync += drain[j].eq(drain[j] - 1)
                    res: Value = sh[i][j]
                    if cfg.pe == "posit8":
                        res = fixed_to_posit8(m, sh[i][j], shn[i][j], name=f"rnd{j}")
                    elif cfg.pe == "fp16_mac" or cfg.mode_words:  # NaN flag rides along
                        res = Cat(sh[i][j], shn[i][j])
                    cols_out.append((res, shn[i][j], drain[j] != 0, drain[j] == 1))
                if j < c - 1:
                    regs = (Signal(len(a_in), name=f"ar{i}_{j}"), Signal(name=f"vr{i}_{j}"),
                            Signal(name=f"lr{i}_{j}"))
                    m.d.sync += [regs[0].eq(a_in), regs[1].eq(v_in), regs[2].eq(l_in)]
                    a_in, v_in, l_in = regs
        rows = self._emit(m, cols_out)
        valid, last = cols_out[-1][2], cols_out[-1][3]
        if cfg.dequant:
            self._edge_dequant(m, rows, self._delay(m, asum_sh[-1], c - 1, "asum_o"), valid,
                               last, fire & fend,
                               self._delay(m, anan_sh[-1], c - 1, "anan_o") if anan else None)
        elif cfg.pe == "dequant_first":
            ts, = self._fold_fifo(m, fire & p.last, [p.tscale], valid & last, "tscale")
            self._edge_tscale(m, rows, valid, last, [ts[16 * j:16 * (j + 1)]
                                                     for j in range(c)])
        elif cfg.pe in ("multiformat", "fp16_mac") or cfg.mode_words:
            self._edge_round(m, rows, valid, last)

    # ------------------------------------------------------------------------------------
    @staticmethod
    def _dequant_weight(m: Module, w: Value, z: Value, sm: Value, name: str) -> Signal:
        """``sat_int8((w - z) * sm)`` (the dequantize-first baseline's per-weight path)."""
        t = Signal(signed(18), name=f"{name}_t")
        w8 = Signal(signed(8), name=f"{name}_w8")
        m.d.comb += [t.eq((w.as_signed() - z.as_signed()) * sm),
                     w8.eq(Mux(t > 127, 127, Mux(t < -128, -128, t)))]
        return w8

    @staticmethod
    def _os_capture(m: Module, v_in: Value, l_in: Value, shift: Value,
                    regs: list[tuple[Signal, Signal, Value, Value | None]]) -> None:
        """OS accumulate / capture / drain of one cell (or row sum): for every
        ``(acc, shadow, acc_next, shadow_above)``: a beat accumulates ``acc_next``; the fold's
        final beat puts it in ``shadow`` instead and clears ``acc``; ``shift`` moves the
        shadow above down (the sequencer never lets it coincide with a capture; were it to, the
        capture would win)."""
        with m.If(shift):
            for _, shadow, _, above in regs:
                if above is not None:
                    m.d.sync += shadow.eq(above)
        with m.If(v_in):
            for acc, shadow, nxt, _ in regs:
                with m.If(l_in):
                    m.d.sync += [shadow.eq(nxt), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(nxt)

    def _fold_fifo(self, m: Module, push: Value, values: list[Value], pop: Value,
                   name: str) -> list[Value]:
        """Per-fold values (taken with a fold's final beat, ``push``) held until the fold's
        last row reaches the edge units (``pop``, that row's cycle): the head of a small FIFO.

        A fold's last row reaches the edge ``2R + C - 2`` cycles after its final beat, and
        final beats are >= R cycles apart, so at most ``(2R + C - 2) // R + 1`` folds are in
        flight; the FIFO has one entry more. Returns the head, split like ``values``.
        """
        r, c = self._cfg.rows, self._cfg.cols
        depth = (2 * r + c - 2) // r + 2
        flat = [Value.cast(v) for v in values]  # (a View's len() counts its elements)
        word = Cat(*flat)
        q = [Signal(len(word), name=f"{name}_q{k}") for k in range(depth)]
        wp = Signal(range(depth), name=f"{name}_wp")
        rp = Signal(range(depth), name=f"{name}_rp")
        with m.If(push):
            m.d.sync += wp.eq(Mux(wp == depth - 1, 0, wp + 1))
            for k in range(depth):
                with m.If(wp == k):
                    m.d.sync += q[k].eq(word)
        with m.If(pop):
            m.d.sync += rp.eq(Mux(rp == depth - 1, 0, rp + 1))
        head = Signal(len(word), name=f"{name}_head")
        with m.Switch(rp):
            for k in range(depth):
                with m.Case(k):
                    m.d.comb += head.eq(q[k])
        out, lo = [], 0
        for v in flat:
            out.append(head[lo:lo + len(v)])
            lo += len(v)
        return out

    def _edge_dequant(self, m: Module, rows: list[Value], asum: Value, valid: Value,
                      last: Value, at: Value, anan: Value | None = None) -> None:
        """Per-column MixPE group dequant + R-deep exact accumulator + one rounding.

        ``act: fp16``: ``rows`` / ``asum`` are fixed point at 2**-24 (``ShiftAddArith`` of
        ``act="fp16"``: the dequant term and accumulator LSB 2**-48), and ``anan`` (the row's
        Inf/NaN activation flag of the group) joins each column's sticky NaN flag."""
        from mixforge.models.pe import shift_add_arith

        cfg = self._cfg
        ar = shift_add_arith(k=cfg.w_bits, act="fp16" if cfg.act == "fp16" else "int8",
                             group=cfg.group)
        p = self.x.payload  # the fold's scales, zero points and whether it closes the tile
        sc, zr, fin = self._fold_fifo(m, at, [p.scale, p.zero, p.last], valid & last, "fold")
        scale = [sc[16 * j:16 * (j + 1)] for j in range(cfg.cols)]
        zero = [zr[8 * j:8 * (j + 1)] for j in range(cfg.cols)]
        always = Const(1, 1)
        v5, l5, v6, l6 = (Signal(name=n) for n in ("v5", "l5", "v6", "l6"))
        for j in range(cfg.cols):
            dq = dequant_term(m, ar=ar, swa=rows[j], sa=asum, scale=scale[j], zero=zero[j],
                              enable=always, name=f"dq{j}",
                              tags=(valid, last, fin, Const(0, 1) if anan is None else anan)
                              if j == 0 else ())
            if j == 0:
                v4, l4, fin4, an4 = dq.tags
            fifo = [Signal(signed(ar.acc), name=f"dacc{j}_{k}") for k in range(cfg.rows)]
            fnan = [Signal(name=f"dnan{j}_{k}") for k in range(cfg.rows)]
            new = Signal(signed(ar.acc), name=f"dnew{j}")
            nnew = Signal(name=f"dnnew{j}")
            m.d.comb += [new.eq(fifo[0] + dq.term), nnew.eq(fnan[0] | dq.bad | an4)]
            r5, rn5 = Signal(signed(ar.acc), name=f"r5_{j}"), Signal(name=f"rn5_{j}")
            with m.If(v4):  # rows arrive in the same order every fold: rotate the R entries
                m.d.sync += [fifo[k].eq(fifo[k + 1]) for k in range(cfg.rows - 1)]
                m.d.sync += [fnan[k].eq(fnan[k + 1]) for k in range(cfg.rows - 1)]
                m.d.sync += [fifo[-1].eq(Mux(fin4, 0, new)), fnan[-1].eq(~fin4 & nnew),
                             r5.eq(new), rn5.eq(nnew)]
            rounded = round_to_float(m, r5, lsb=ar.acc_lsb, fmt=cfg.out, nan=rn5,
                                     name=f"rd{j}", stage=enabled_stage(m, always))
            m.d.sync += self.o.payload.data[j].eq(rounded)
        m.d.sync += [v5.eq(v4 & fin4), l5.eq(l4), v6.eq(v5), l6.eq(l5),
                     self.o.valid.eq(v6), self.o.payload.last.eq(l6)]

    def _edge_round(self, m: Module, rows: list[Value], valid: Value, last: Value) -> None:
        """One rounding per output at the bottom of each column (OS; WS after the edge's
        accumulator memory, ``ws_round_edge.py``) (multiformat: the quire,
        LSB 2**-56, into posit16_es1 / float16 / float32 as ``MultiFormatMAC``'s readout;
        fp16_mac: LSB 2**-48 into float32 / float16), NaN/NaR from the sticky flag."""
        from mixforge.models.pe import FP16MAC_ACC_LSB, QUIRE_LSB

        cfg = self._cfg
        aw = cfg.acc_bits
        lsb = QUIRE_LSB if cfg.mode_words else FP16MAC_ACC_LSB
        always = Const(1, 1)
        for j in range(cfg.cols):
            x, bad = rows[j][:aw].as_signed(), rows[j][aw]
            stage = enabled_stage(m, always)
            if cfg.pe == "separate_macs":  # SeparateMacsMAC's readouts, muxed by the mode
                rounded = separate_macs_readout(m, rows[j], seg_bits=cfg.separate_seg_bits,
                                                out=cfg.out, stage=stage, name=f"rd{j}")
            elif cfg.out == "posit16_es1":
                rounded = round_to_posit_lean(m, x, lsb=lsb, n=16, es=1, nan=bad,
                                              name=f"rd{j}", stage=stage)
            else:
                rounded = round_to_float(m, x, lsb=lsb, fmt=cfg.out, nan=bad, name=f"rd{j}",
                                         stage=stage)
            m.d.sync += self.o.payload.data[j].eq(rounded)
        v1, l1 = Signal(name="v1"), Signal(name="l1")
        m.d.sync += [v1.eq(valid), l1.eq(last), self.o.valid.eq(v1), self.o.payload.last.eq(l1)]

    def _edge_tscale(self, m: Module, rows: list[Value], valid: Value, last: Value,
                     tscale: list[Value]) -> None:
        """Dequantize-first readout per column: ``tscale * acc``, one rounding (``tscale``:
        the column's float16 tensor scale, valid with ``rows``; both dataflows)."""
        cfg = self._cfg
        always = Const(1, 1)
        for j in range(cfg.cols):
            x, bad = fp16_scaled(m, rows[j], tscale[j], name=f"ts{j}")
            rounded = round_to_float(m, x, lsb=-24, fmt=cfg.out, nan=bad, name=f"rd{j}",
                                     stage=enabled_stage(m, always))
            m.d.sync += self.o.payload.data[j].eq(rounded)
        v1, l1 = Signal(name="v1"), Signal(name="l1")
        m.d.sync += [v1.eq(valid), l1.eq(last), self.o.valid.eq(v1), self.o.payload.last.eq(l1)]
