"""Enumerate the tiles of a mapped GEMM (vectorised) and count their actions.

Tiles are visited in the mapping's loop order. A tensor's tile is fetched when it differs from
the previous tile's (one resident tile per operand, reuse only between consecutive tiles). An
output tile is written when its run of consecutive tiles ends: in the output format when its K
reduction is complete, otherwise as ``acc_bits`` partial sums that are read back when the run
for the same output tile resumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mixforge.models.formats import get_format
from mixforge.sim.arch.xpu import XpuConfig
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.mapper import Mapping
from mixforge.sim.mapping.ops import Gemm

__all__ = ["TileSet", "enumerate_tiles", "gemm_actions", "tensor_tile_bytes"]


@dataclass(frozen=True)
class TileSet:
    """Tiles of one GEMM of the batch, in execution order.

    Parameters
    ----------
    combo
        Per tile, which dimensions are at their (smaller) last tile: bit 2 = M, 1 = K, 0 = N.
    shapes
        ``(tm, tk, tn)`` of each of the 8 combos.
    fetch_a, fetch_b, read_o, write_o, final_o
        Per-tile flags: A / B tile fetched; partial sums read back; output written; that write
        is the final (``o``-format) one.
    outer
        Per-tile index of the outermost loop (cores split the sequence at these boundaries).
    outer_trips
        Trip count of the outermost loop.
    idx_m, idx_k, idx_n, trips
        Per-tile loop indices, and the trip counts ``{"m": .., "k": .., "n": ..}``.
    """

    combo: np.ndarray
    shapes: tuple[tuple[int, int, int], ...]
    fetch_a: np.ndarray
    fetch_b: np.ndarray
    read_o: np.ndarray
    write_o: np.ndarray
    final_o: np.ndarray
    outer: np.ndarray
    outer_trips: int
    idx_m: np.ndarray
    idx_k: np.ndarray
    idx_n: np.ndarray
    trips: dict[str, int]

    @property
    def n(self) -> int:
        return int(self.combo.size)


def _changed(*idx: np.ndarray) -> np.ndarray:
    ch = np.zeros(idx[0].size, dtype=bool)
    ch[0] = True
    for x in idx:
        ch[1:] |= x[1:] != x[:-1]
    return ch


def enumerate_tiles(op: Gemm, mp: Mapping) -> TileSet:
    """All tiles of one GEMM of ``op`` under mapping ``mp``."""
    size = {"m": op.m, "k": op.k, "n": op.n}
    tile = {"m": mp.tm, "k": mp.tk, "n": mp.tn}
    trips = {d: -(-size[d] // tile[d]) for d in "mkn"}
    grids = np.indices(tuple(trips[d] for d in mp.order), dtype=np.int32)
    idx = {d: grids[i].ravel() for i, d in enumerate(mp.order)}
    im, ik, in_ = idx["m"], idx["k"], idx["n"]
    edge = {d: (idx[d] == trips[d] - 1) & (size[d] % tile[d] != 0) for d in "mkn"}
    combo = (edge["m"].astype(np.int8) << 2) | (edge["k"].astype(np.int8) << 1) \
        | edge["n"].astype(np.int8)
    last = {d: size[d] - (trips[d] - 1) * tile[d] for d in "mkn"}
    shapes = tuple((last["m"] if c & 4 else mp.tm, last["k"] if c & 2 else mp.tk,
                    last["n"] if c & 1 else mp.tn) for c in range(8))
    run_start = _changed(im, in_)
    run_end = np.r_[run_start[1:], True]
    return TileSet(combo=combo, shapes=shapes, fetch_a=_changed(im, ik), fetch_b=_changed(ik, in_),
                   read_o=run_start & (ik > 0), write_o=run_end,
                   final_o=run_end & (ik == trips["k"] - 1), outer=idx[mp.order[0]],
                   outer_trips=trips[mp.order[0]], idx_m=im, idx_k=ik, idx_n=in_, trips=trips)


def tensor_tile_bytes(op: Gemm, acc_bits: int, tm: int, tk: int, tn: int
                      ) -> tuple[int, int, int, int]:
    """Bytes of one tile of A, B (+ group scales), partial-sum O and final O."""
    bits = {f: get_format(f).bits for f in (op.w, op.a, op.o or op.a, op.scale_fmt)}
    a = math.ceil(tm * tk * bits[op.a] / 8)
    b = math.ceil(tk * tn * bits[op.w] / 8)
    if op.group_size:
        b += math.ceil(math.ceil(tk / op.group_size) * tn * bits[op.scale_fmt] / 8)
    return a, b, math.ceil(tm * tn * acc_bits / 8), math.ceil(tm * tn * bits[op.o or op.a] / 8)


def gemm_actions(op: Gemm, xpu: XpuConfig, ts: TileSet, fill_w_bytes: float,
                 fill_a_bytes: float, dram_bytes: float, activations: float,
                 l2_bytes: float = 0.0) -> ActionCounts:
    """Action counts of the whole (batched) GEMM from the tiles of one batch element.

    ``fill_*_bytes``, ``dram_bytes`` and ``activations`` are per batch element (bus bytes,
    over-fetch included).

    SRAM: every DRAM byte is written into (or read out of) a buffer; the array reads each weight
    tile once per tile (WS) or per fold row (OS), re-streams the input once per column fold and
    reads + writes partial sums once per row fold. Dequantization (group scales): once per
    group and output with late dequantization (MixPE), else once per weight element fetched.
    """
    r, c = xpu.array.rows, xpu.array.cols
    lanes = xpu.pe.lanes(op.w, op.a)
    counts = np.bincount(ts.combo, minlength=8)
    fb = np.bincount(ts.combo, weights=ts.fetch_b, minlength=8)
    w_bits = get_format(op.w).bits
    a_bits = get_format(op.a).bits
    sw = si = so = 0.0
    deq = 0.0
    for cid in range(8):
        if not counts[cid]:
            continue
        tm, tk, tn = ts.shapes[cid]
        n = counts[cid]
        sw += n * tk * tn * w_bits
        si += n * tm * tk * a_bits * math.ceil(tn / c)
        so += n * 2 * tm * tn * xpu.pe.acc_bits * math.ceil(math.ceil(tk / lanes) / r)
        if op.group_size:
            deq += (n * tm * tn * math.ceil(tk / op.group_size) if xpu.pe.late_dequant
                    else fb[cid] * tk * tn)
    b = op.batch
    return ActionCounts(macs=((op.w, op.a, op.macs),), vector_ops=int(deq * b),
                        sram_weight_bits=int((sw + fill_w_bytes * 8) * b),
                        sram_input_bits=int((si + fill_a_bytes * 8) * b),
                        sram_output_bits=int(so * b), sram_l2_bits=int(l2_bytes * 8 * b),
                        dram_bits=int(dram_bytes * 8 * b),
                        row_activations=int(activations * b))
