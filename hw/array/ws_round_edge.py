"""Exact accumulation and one rounding at the bottom edge of a weight-stationary ``PEArray`` of a
rounding-edge cell kind (``dequant_first``, ``fp16_mac``, ``multiformat`` and any kind that
provides the same cell hooks: ``config._EDGE_PES``; ``separate_macs``: the memory word is the
packed cell register, per-format accumulators + NaR flags + mode, accumulated by
``PEArray._acc_add``, so only the row's mode's accumulator adds and wraps at its width).

In WS a fold holds an R x C weight block (R K-indices x C N-indices) and streams the rows of an
M-chunk (at most ``acc_depth`` rows); each de-skewed output row is C exact partial sums over the
fold's K-indices (``Cat(sum, nan)``). A tile's K-folds stream the same rows in the same order, so
the edge (:func:`ws_round_edge`) keeps, per column, an exact accumulator memory of
``acc_depth`` words of ``ArrayConfig.acc_bits`` bits (plus a sticky NaN / NaR flag bit for the
kinds whose cells flag one: not ``dequant_first``) addressed by the row's position in the fold
(:func:`mixforge.hw.array.ws_edge.row_counter`, the memories are
:func:`mixforge.hw.array.ws_edge.rmw_memory`, shared with the WS MixPE dequant edge):

* the tile's first K-fold ignores the stored word (no memory is ever cleared), every fold adds
  its partial sum (wrapping at ``acc_bits`` like the models' accumulators: int32 for
  ``dequant_first``, the quire for ``multiformat``; modular, so the K-fold order and the
  array's R-term partial sums give the same word as the models' element-by-element loop);
* when the tile's final K-fold (``last`` of the fold's weight beats) passes, the sum goes to the
  OS edge's rounding (``PEArray._edge_round``: one rounding into ``out``, NaN / NaR from the
  flag) or, for ``dequant_first``, its tensor-scale readout (``PEArray._edge_tscale``:
  ``tscale * acc`` rounded once) and the row leaves on ``o`` (``last`` on its final row).

Read-modify-write is one cycle long (a transparent read port), so back-to-back folds of one row
(``acc_depth`` 1, 1 x 1 arrays) are hazard free; the edge accepts a row every cycle and adds
:data:`WS_ROUND_EDGE_LATENCY` cycles, so it never holds the array up.

Contract with the sequencer (as ``ws_edge.py``): the per-bank ``tend`` / ``tscale`` registers
are read in the cycle the row reaches the edge (at most ``R + C - 2`` cycles after the fold's
last activation row was accepted, before the bank's next load beat can change them); the
tensor scale is registered there and travels with the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned

from mixforge.hw.array.ws_edge import _bank, _reg, rmw_memory, row_counter

if TYPE_CHECKING:
    from mixforge.hw.array.pe_array import PEArray

__all__ = ["ws_round_edge", "WS_ROUND_EDGE_LATENCY"]

#: Cycles from a row at the edge to its result at ``o``: memory read + add (1), then the OS
#: edge's rounding / tensor-scale readout (2).
WS_ROUND_EDGE_LATENCY = 3


def ws_round_edge(arr: PEArray, m: Module, *, rows: Sequence[Value], psum_bits: int,
                  valid: Value, last: Value, bank: Value, tend: Sequence[Value],
                  tscale: Sequence[Sequence[Value]] = ()) -> None:
    """Build the WS rounding edge of ``arr`` into ``m`` (it drives ``arr.o``).

    Parameters
    ----------
    rows, valid, last, bank
        The de-skewed row: per column ``Cat(partial sum (psum_bits, signed), nan)``, and the
        row's valid / fold-final / weight-bank tags, all in the same cycle.
    tend
        Per weight bank: "this fold is its tile's final K-fold" (the weight stream's ``last``).
    tscale
        ``dequant_first`` only: per weight bank, the C float16 tensor-scale patterns.
    """
    cfg = arr.config
    aw, depth = cfg.acc_bits, cfg.acc_depth
    # separate_macs: the word is the packed cell register (per-format accumulators, NaR flags,
    # mode), accumulated by the cells' hook (only the row's mode's accumulator adds and wraps)
    sep = cfg.pe == "separate_macs"
    flag = cfg.pe not in ("dequant_first", "separate_macs")  # a NaN / NaR flag beside the sum

    # ---- E0: row address, tile bookkeeping, memory read
    mcnt = row_counter(m, valid=valid, last=last, depth=depth, name="er_mcnt")
    tfirst = Signal(init=1, name="er_tfirst")  # this fold is its tile's first K-fold
    tend0 = Signal(name="er_tend0")
    m.d.comb += tend0.eq(_bank(bank, tend))
    with m.If(valid & last):
        m.d.sync += tfirst.eq(tend0)
    v1, l1 = _reg(m, valid, "er_v1"), _reg(m, last, "er_l1")
    tend1, tfirst1 = _reg(m, tend0, "er_tend1"), _reg(m, tfirst, "er_tfirst1")
    addr1 = _reg(m, mcnt, "er_addr1")
    # ---- E1: accumulate (the final K-fold's sum goes to the rounding, not back to memory)
    sums: list[Value] = []
    for j in range(cfg.cols):
        x1 = _reg(m, rows[j], f"er_x1_{j}")
        new = Signal(signed(aw), name=f"er_new{j}")  # wraps like the models' accumulators
        new_nan = Signal(name=f"er_nnew{j}")
        rd = rmw_memory(m, shape=unsigned(aw + int(flag)), depth=depth, name=f"er_acc{j}",
                        raddr=mcnt, waddr=addr1, wdata=Cat(new, new_nan) if flag else new,
                        wen=v1 & ~tend1)
        if sep:
            m.d.comb += new.eq(arr._acc_add(Mux(tfirst1, 0, rd[:aw]), x1[:psum_bits]))
        else:
            m.d.comb += new.eq(Mux(tfirst1, 0, rd[:aw].as_signed()) +
                               x1[:psum_bits].as_signed())
        if flag:
            m.d.comb += new_nan.eq((~tfirst1 & rd[aw]) | x1[psum_bits])
            sums.append(Cat(new, new_nan))
        else:
            m.d.comb += new_nan.eq(Const(0, 1))
            sums.append(Cat(new, new_nan) if sep else new)
    vo = Signal(name="er_vo")
    m.d.comb += vo.eq(v1 & tend1)
    if cfg.pe == "dequant_first":
        ts1 = [_reg(m, _bank(bank, [t[j] for t in tscale]), f"er_ts{j}")
               for j in range(cfg.cols)]
        arr._edge_tscale(m, sums, vo, l1, ts1)
    else:
        arr._edge_round(m, sums, vo, l1)
