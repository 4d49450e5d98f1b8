"""Second blocking level: L2 (global buffer) blocks of a GEMM too big for the shared L2.

A GEMM whose A and B do not fit in the L2 together is cut into ``bm x K x bn`` blocks of the
output (the whole K reduction stays inside a block, so no partial sums leave the chip). Blocks
run one after another in ``order`` (``"mn"``: M blocks outermost); all cores work on one block
at a time, each taking whole output tiles, and fetch their operand tiles from the L2. A block's
new A and B panels stream from DRAM through the L2 in K slices while the cores consume them
(the slices of the next block are prefetched), as a GPU's thread blocks of one wave share
panels through the L2:

* a block with at most one output tile per core (one *wave*) needs only the K slices in flight
  in the L2: ``2 * (bm + bn) * K_SLICE * bits / 8 <= l2 bytes``;
* a bigger block is swept by the cores several times, so its panels must stay resident:
  ``2 * (bm * K * a_bits + K * bn * w_bits) / 8 <= l2 bytes`` (room for the next block's).

DRAM traffic is then the block-level refetch count: with ``order="mn"`` each A panel is read
once and B once per M block (and symmetrically), plus the output once. The mapper estimates a
block's compute time from a nominal output tile (the largest that fits the output buffer twice)
and the rounds the cores need, and picks ``(bm, bn, order)`` minimising
``max(compute, DRAM bytes / bandwidth)``, ties to less traffic and fewer blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixforge.models.formats import get_format
from mixforge.sim.arch.xpu import XpuConfig
from mixforge.sim.mapping.ops import Gemm

__all__ = ["L2Blocking", "map_l2", "block_bytes", "block_traffic", "L2_BLOCK_UNIT"]

#: Block sizes are multiples of this many rows / columns (whole core tiles of typical arrays).
L2_BLOCK_UNIT = 128
#: K elements of the A and B panels one streaming step moves through the L2.
K_SLICE = 512


@dataclass(frozen=True)
class L2Blocking:
    """L2 blocks of a GEMM: ``bm x K x bn``, visited in ``order`` (outermost first)."""

    bm: int
    bn: int
    order: str = "mn"

    def trips(self, op: Gemm) -> tuple[int, int]:
        return -(-op.m // self.bm), -(-op.n // self.bn)


def block_bytes(op: Gemm, rows: int, cols: int) -> tuple[int, int]:
    """DRAM bytes of an A block (``rows x K``) and a B block (``K x cols``, group scales too)."""
    a = math.ceil(rows * op.k * get_format(op.a).bits / 8) if op.a_in_dram else 0
    b = math.ceil(op.k * cols * get_format(op.w).bits / 8)
    if op.group_size:
        b += math.ceil(op.groups_k * cols * get_format(op.scale_fmt).bits / 8)
    return a, b


def _candidates(dim: int) -> list[int]:
    """Block sides: multiples of a unit (at least :data:`L2_BLOCK_UNIT`, at most 32 values)."""
    unit = max(L2_BLOCK_UNIT, -(-dim // 32 // L2_BLOCK_UNIT) * L2_BLOCK_UNIT)
    return sorted({*range(unit, dim, unit), dim})


def block_traffic(op: Gemm, blk: L2Blocking) -> int:
    """DRAM bytes of A and B under ``blk`` (outputs not included).

    ``"mn"``: each A block is read once, the B blocks once per M block (once in all when there
    is a single N block, which then stays resident); ``"nm"``: the converse.
    """
    tm, tn = blk.trips(op)
    a, b = block_bytes(op, op.m, op.n)
    if blk.order == "mn":
        return a + b * (tm if tn > 1 else 1)
    return b + a * (tn if tm > 1 else 1)


def map_l2(op: Gemm, xpu: XpuConfig, dram_bw_bytes_per_s: float,
           force: bool = False) -> L2Blocking | None:
    """L2 blocks for ``op`` on ``xpu``; ``None`` when no blocking is needed or possible.

    No blocking: no L2, a batched GEMM (each element is small), a skinny GEMM (M or N below
    :data:`L2_BLOCK_UNIT`: GEMV-like, each operand is read once anyway), or A and B fit in the
    L2 together (the single-level mapper's L2 reuse applies) unless ``force`` (blocks whose
    cores share operand reads through the L2 multicast can still beat the single level when
    the L2 bandwidth, not its capacity, is the limit).
    """
    l2 = xpu.l2
    if l2 is None or op.batch != 1 or min(op.m, op.n) < L2_BLOCK_UNIT:
        return None
    a, b = block_bytes(op, op.m, op.n)
    if a + b <= l2.size_bytes and not force:
        return None
    # nominal output tile: the largest the output buffer holds twice (double buffering)
    area0 = max(1, xpu.sram.output.size_bytes * 8 // (2 * xpu.pe.acc_bits))
    per_core = xpu.peak_macs_per_s(op.w, op.a) / xpu.cores
    a_bits, w_bits = get_format(op.a).bits, get_format(op.w).bits
    best: tuple[float, int, int, L2Blocking] | None = None
    for bm in _candidates(op.m):
        for bn in _candidates(op.n):
            tiles = -(-bm * bn // area0)
            rounds = -(-tiles // xpu.cores)
            if rounds == 1:
                ks = min(K_SLICE, op.k)
                need = 2 * (bm * ks * a_bits + ks * bn * w_bits) / 8
            else:
                ab, bb = block_bytes(op, bm, bn)
                need = 2 * (ab + bb)
            if need > l2.size_bytes:
                continue
            for order in ("mn", "nm"):
                blk = L2Blocking(bm, bn, order)
                tm, tn = blk.trips(op)
                traffic = block_traffic(op, blk)
                compute = tm * tn * rounds * min(area0, bm * bn) * op.k / per_core
                est = max(compute, traffic / dram_bw_bytes_per_s)
                key = (est, traffic, tm * tn, blk)
                if best is None or key[:3] < best[:3]:
                    best = key
    return None if best is None else best[3]
