"""MixPE group dequantization at the bottom edge of a weight-stationary ``PEArray``.

In WS a fold holds an R x C weight block (R K-indices x C N-indices) and streams the rows of an
M-chunk; each de-skewed output row is C partial sums over R K-indices. A quantization group of
``G`` K-indices spans ``ceil(G / R)`` K-folds (the tiling never lets a fold straddle a group;
the group's last fold may be zero-padded). The edge (:func:`ws_dequant_edge`) therefore keeps,
per row ``m`` of the chunk (address = the row's position in the fold, ``< acc_depth``):

* per column, the running integer group sum ``sum(w*a)`` (a :class:`~amaranth.lib.memory.Memory`
  of ``acc_depth`` words), and one shared memory of ``sum(a)`` (from an adder tree over the R
  activations of each streamed row at the left edge, delayed to meet the row's outputs);
* when the fold that closes a group passes, one MixPE dequant unit per column
  (:func:`mixforge.hw.pe.dequant.dequant_term`, shared with ``ShiftAddPE``) turns the group
  sums into ``s * (sum(w*a) - z * sum(a))`` exactly;
* per column, an exact accumulator memory (``ShiftAddArith.acc`` bits + a NaN flag) adds the
  term in; when the tile's last K-fold passes, the sum is rounded once into float32/float16 and
  the row leaves on ``o`` (``mixforge.models.pe.shift_add_pe`` per output, bit for bit).

Fold bookkeeping: a fold closes its group after ``ceil(G / R)`` folds or when it is the tile's
final fold (``tend``, the weight stream's ``last`` of that fold), and the next group is the
tile's first when ``tend`` closed the previous one; the first fold of a group ignores the stored
group sums and the tile's first group ignores the stored accumulator, so no memory is ever
cleared. Read-modify-write loops are one cycle long (transparent read ports), so any row order,
idle cycles and back-to-back folds of one row are hazard free. The edge accepts a row every
cycle and adds :data:`WS_EDGE_LATENCY` cycles: it never holds the array up.

Contract with the sequencer (:meth:`PEArray._elaborate_ws`): the per-bank ``scale`` / ``zero``
/ ``tend`` registers are read 0 (``tend``) and 1 (``scale`` / ``zero``) cycles after a row
reaches the edge, i.e. at most ``R + C - 1`` cycles after the fold's last activation row was
accepted; a bank's next load beat is accepted at the earliest in that same cycle and its values
appear one cycle later, so the registers need no copy at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import memory

from mixforge.hw.array.config import ArrayConfig
from mixforge.hw.pe.arith import enabled_stage, round_to_float
from mixforge.hw.pe.dequant import DEQUANT_STAGES, dequant_term

__all__ = ["ws_dequant_edge", "WS_EDGE_LATENCY", "rmw_memory", "row_counter"]

#: Cycles from a row at the edge to its float result at ``o``: memory read (1), dequant
#: (:data:`~mixforge.hw.pe.dequant.DEQUANT_STAGES` = 2), accumulate (1), rounding (2).
WS_EDGE_LATENCY = 1 + DEQUANT_STAGES + 1 + 2


def _bank(sel: Value, regs: Sequence[Value]) -> Value:
    return regs[0] if len(regs) == 1 else Mux(sel, regs[1], regs[0])


def _reg(m: Module, v: Value, name: str) -> Signal:
    r = Signal(v.shape(), name=name)
    m.d.sync += r.eq(v)
    return r


def rmw_memory(m: Module, *, shape: object, depth: int, name: str, raddr: Value, waddr: Value,
               wdata: Value, wen: Value) -> Value:
    """An ``acc_depth``-deep :class:`~amaranth.lib.memory.Memory` for one-cycle read-modify-
    write loops: a synchronous read port at ``raddr`` (data one cycle later), transparent for
    the write port (``waddr`` / ``wdata`` / ``wen``), so a write and a read of the same address
    in one cycle read the new word. Returns the read data."""
    mem = memory.Memory(shape=shape, depth=depth, init=[])  # type: ignore[arg-type]
    m.submodules[name] = mem
    wp = mem.write_port()
    rp = mem.read_port(transparent_for=(wp,))
    m.d.comb += [rp.addr.eq(raddr), wp.addr.eq(waddr), wp.data.eq(wdata), wp.en.eq(wen)]
    return rp.data


def row_counter(m: Module, *, valid: Value, last: Value, depth: int, name: str) -> Signal:
    """The streamed row's position in its fold (the memories' address): counts valid rows,
    back to 0 after a fold's ``last`` row."""
    mcnt = Signal(range(max(depth, 2)), name=name)
    with m.If(valid):
        m.d.sync += mcnt.eq(Mux(last, 0, mcnt + 1))
    return mcnt


def ws_dequant_edge(m: Module, *, cfg: ArrayConfig, rows: Sequence[Value], asum: Value,
                    valid: Value, last: Value, bank: Value, scale: Sequence[Sequence[Value]],
                    zero: Sequence[Sequence[Value]], tend: Sequence[Value], o: object,
                    nan: Value | None = None) -> None:
    """Build the WS dequant edge into ``m``, driving the array's ``o`` port.

    Parameters
    ----------
    rows, asum, valid, last, bank
        The de-skewed row (C signed partial sums), the sum of its R activations, and the row's
        valid / fold-final / weight-bank tags, all in the same cycle.
    scale, zero, tend
        Per weight bank: C float16 scale and C int8 zero-point patterns, and the flag "this
        fold is the tile's last K-fold" (from the weight stream).
    o
        The array's output port (``payload.data``, ``payload.last``, ``valid``).
    nan
        ``act: fp16``: the row's Inf/NaN activation flag (same cycle as ``rows``); the sums are
        then fixed point at 2**-24 (``ShiftAddArith`` of ``act="fp16"``: dequant terms and
        accumulators at 2**-48). The flag is ORed over the group's K-folds in a 1-bit memory
        beside ``sum(a)`` and joins each column's sticky NaN flag when the group closes.
    """
    from mixforge.models.pe import shift_add_arith

    r, c = cfg.rows, cfg.cols
    ar = shift_add_arith(k=cfg.w_bits, act="fp16" if cfg.act == "fp16" else "int8",
                         group=cfg.group)
    fpg = -(-cfg.group // r)  # K-folds per full group
    depth = cfg.acc_depth
    always = Const(1, 1)

    # ---- E0: fold bookkeeping, row address, memory reads
    fcnt = Signal(range(max(fpg, 2)), name="eg_fcnt")
    tfirst = Signal(init=1, name="eg_tfirst")
    mcnt = row_counter(m, valid=valid, last=last, depth=depth, name="eg_mcnt")
    tend0 = Signal(name="eg_tend0")
    gend0 = Signal(name="eg_gend0")
    m.d.comb += [tend0.eq(_bank(bank, tend)), gend0.eq(tend0 | (fcnt == fpg - 1))]
    with m.If(valid & last):
        m.d.sync += fcnt.eq(Mux(gend0, 0, fcnt + 1))
        with m.If(gend0):
            m.d.sync += tfirst.eq(tend0)
    v1 = _reg(m, valid, "eg_v1")
    l1 = _reg(m, last, "eg_l1")
    b1 = _reg(m, bank, "eg_b1")
    gfirst1 = _reg(m, fcnt == 0, "eg_gfirst1")
    gend1 = _reg(m, gend0, "eg_gend1")
    tend1 = _reg(m, tend0, "eg_tend1")
    tfirst1 = _reg(m, tfirst, "eg_tfirst1")
    addr1 = _reg(m, mcnt, "eg_addr1")
    keep1 = Signal(name="eg_keep1")  # store the group sums: a group fold that does not close it
    m.d.comb += keep1.eq(v1 & ~gend1)

    def group_mem(width: int, x0: Value, name: str) -> Signal:
        """``Mux(group's first fold, 0, mem[addr]) + x`` one cycle after the row (E1)."""
        x1 = _reg(m, x0, f"{name}_x1")
        new = Signal(signed(width), name=f"{name}_new")
        old = rmw_memory(m, shape=signed(width), depth=depth, name=name, raddr=mcnt,
                         waddr=addr1, wdata=new, wen=keep1)
        m.d.comb += new.eq(Mux(gfirst1, 0, old) + x1)
        return new

    sa1 = group_mem(ar.act_sum, asum, "eg_sa")
    an1: Value = Const(0, 1)
    if nan is not None:  # act fp16: the row's Inf/NaN flag, ORed over the group's K-folds
        nan1 = _reg(m, nan, "eg_an_x1")
        an1 = Signal(name="eg_an_new")
        an_old = rmw_memory(m, shape=unsigned(1), depth=depth, name="eg_an", raddr=mcnt,
                            waddr=addr1, wdata=an1, wen=keep1)
        m.d.comb += an1.eq((~gfirst1 & an_old) | nan1)
    # ---- E1 -> E3: dequant; E2: accumulator read address; E3: accumulate
    addr2 = _reg(m, addr1, "eg_addr2")
    addr3 = _reg(m, addr2, "eg_addr3")
    v3 = tend3 = tfirst3 = l3 = an3 = Const(0, 1)
    v4, l4, v5, l5 = (Signal(name=f"eg_{n}") for n in ("v4", "l4", "v5", "l5"))
    for j in range(c):
        gs1 = group_mem(ar.group_sum, rows[j], f"eg_gs{j}")
        dq = dequant_term(m, ar=ar, swa=gs1, sa=sa1, scale=_bank(b1, [s[j] for s in scale]),
                          zero=_bank(b1, [z[j] for z in zero]), enable=always,
                          tags=(v1 & gend1, tend1, tfirst1, l1, an1) if j == 0 else (),
                          name=f"eg_dq{j}")
        if j == 0:
            v3, tend3, tfirst3, l3, an3 = dq.tags
        old = Signal(signed(ar.acc), name=f"eg_old{j}")
        old_nan = Signal(name=f"eg_oldnan{j}")
        new = Signal(signed(ar.acc), name=f"eg_new{j}")  # wraps like the model's accumulator
        new_nan = Signal(name=f"eg_newnan{j}")
        rd = rmw_memory(m, shape=unsigned(ar.acc + 1), depth=depth, name=f"eg_acc{j}",
                        raddr=addr2, waddr=addr3, wdata=Cat(new, new_nan), wen=v3 & ~tend3)
        m.d.comb += [old.eq(Mux(tfirst3, 0, rd[:ar.acc].as_signed())),
                     old_nan.eq(~tfirst3 & rd[ar.acc]),
                     new.eq(old + dq.term), new_nan.eq(old_nan | dq.bad | an3)]
        r4, rn4 = Signal(signed(ar.acc), name=f"eg_r4_{j}"), Signal(name=f"eg_rn4_{j}")
        m.d.sync += [r4.eq(new), rn4.eq(new_nan)]
        rounded = round_to_float(m, r4, lsb=ar.acc_lsb, fmt=cfg.out, nan=rn4, name=f"eg_rd{j}",
                                 stage=enabled_stage(m, always))
        m.d.sync += o.payload.data[j].eq(rounded)  # type: ignore[attr-defined]
    m.d.sync += [v4.eq(v3 & tend3), l4.eq(l3), v5.eq(v4), l5.eq(l4),
                 o.valid.eq(v5), o.payload.last.eq(l5)]  # type: ignore[attr-defined]
