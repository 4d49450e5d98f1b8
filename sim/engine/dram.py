"""HBM timing at DRAM-burst granularity, vectorised over the bursts of a transfer.

Address map (LSB first): burst offset | bank group | low column | pseudo-channel | bank | high
column | row, so a linear stream alternates bank groups on consecutive bursts (tCCD_S spacing, as
an xPU's DMA does), reads a few bursts per open row, and moves to the next pseudo-channel every
``pc_interleave_bytes``; a DRAM row holds ``row_bytes`` of one bank.
As memory controllers do, the pseudo-channel is rotated by column + row and the bank by row
(a bijective hash), so power-of-two strides do not pile onto one channel or bank.

A unit confined to a bank range (Duplex: the xPU and the logic-PIM on different bank bundles,
``pim.bank_partition: split``) has its addresses decoded onto banks ``[lo, hi)`` of every bank
group only: same map, fewer banks per group (see :func:`decode_bursts`).

Each pseudo-channel serves its bursts in order with an open-page policy. Its busy time is the
largest of the resource occupancies the JEDEC constraints imply:

* data bus: ``bursts * t_burst``;
* column commands: the sum of tCCD_S / tCCD_L gaps (same bank group -> tCCD_L) + one burst;
* each bank: ``(acts - 1) * tRC + tRCD + its bursts * tCCD_L`` (row misses serialise on tRC);
* activations: ``max((acts - 1) * tRRD, floor((acts - 1) / 4) * tFAW) + tRCD + t_burst``;

stretched by refresh (tREFI / (tREFI - tRFC)). A row hit needs no activation; a miss costs one.
This is a resource-bound model, not a command-by-command scheduler: it is exact for the
uniform streams the tests use and an optimistic (never pessimistic) bound in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mixforge.sim.arch.hbm import HbmConfig

__all__ = ["TransferTime", "decode_bursts", "stream_time", "transfer_time", "MAX_SIM_BURSTS"]

#: Bursts simulated per transfer; longer regular transfers are simulated on a prefix of whole
#: rows and scaled linearly (their per-row pattern repeats).
MAX_SIM_BURSTS = 1 << 16


@dataclass(frozen=True)
class TransferTime:
    """Timing of one transfer.

    Parameters
    ----------
    t_alone_ns
        Duration with the whole memory system to itself (slowest pseudo-channel).
    busy_pc_ns
        Sum of the busy times of all pseudo-channels: when ``p`` cores run such transfers on
        disjoint data at once, each takes at least ``p * busy_pc_ns / n_pcs``.
    bursts, activations
        Bursts moved (bytes on the bus = bursts * burst_bytes) and row activations.
    """

    t_alone_ns: float
    busy_pc_ns: float
    bursts: int
    activations: int

    def shared_ns(self, sharers: int, n_pcs: int) -> float:
        """Duration when ``sharers`` agents issue such transfers concurrently."""
        return max(self.t_alone_ns, sharers * self.busy_pc_ns / n_pcs)


def decode_bursts(hbm: HbmConfig, burst_idx: np.ndarray, banks: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Map global burst indices to ``(pc, bank_group, bank_in_group, row)``.

    LSB first: bank group | low column (``pc_interleave_bytes`` per pc) | pc | bank | high
    column | row; pc rotated by column + row and bank by row. ``banks = (lo, hi)`` confines
    the map to banks ``lo .. hi-1`` of each bank group (a unit's bank bundle): it is then a
    bijection onto those banks only.
    """
    lo, hi = banks if banks is not None else (0, hbm.banks_per_group)
    nbank = hi - lo
    b = np.asarray(burst_idx, dtype=np.int64)
    col_low_n = hbm.pc_interleave_bytes // (hbm.bank_groups * hbm.burst_bytes)
    col_high_n = hbm.row_bytes // hbm.burst_bytes // col_low_n
    bg = b % hbm.bank_groups
    b = b // hbm.bank_groups
    col_low = b % col_low_n
    b = b // col_low_n
    pc = b % hbm.n_pcs
    b = b // hbm.n_pcs
    bank = b % nbank
    b = b // nbank
    col = b % col_high_n
    row = (b // col_high_n) % hbm.rows_per_bank
    del col_low  # the column within the open row does not change the timing
    pc = (pc + col + row) % hbm.n_pcs
    bank = lo + (bank + row) % nbank
    return pc, bg, bank, row


def stream_time(hbm: HbmConfig, pc: np.ndarray, bg: np.ndarray, bank: np.ndarray,
                row: np.ndarray) -> TransferTime:
    """Time to serve bursts (in issue order) at the given pseudo-channels / banks / rows."""
    n = int(np.size(pc))
    if n == 0:
        return TransferTime(0.0, 0.0, 0, 0)
    t = hbm.timing
    npc = hbm.n_pcs
    t_b = hbm.t_burst_ns
    ccd_s, ccd_l = max(t.t_ccd_s_ns, t_b), max(t.t_ccd_l_ns, t_b)
    pc = np.asarray(pc, dtype=np.int64)
    order = np.argsort(pc, kind="stable")
    pc_s, bg_s = pc[order], np.asarray(bg, dtype=np.int64)[order]
    same_pc = np.r_[False, pc_s[1:] == pc_s[:-1]]
    gap = np.where(bg_s[1:] == bg_s[:-1], ccd_l, ccd_s) * same_pc[1:]
    cadence = np.bincount(pc_s[1:], weights=gap, minlength=npc) + t_b
    bursts_pc = np.bincount(pc, minlength=npc)
    bus = bursts_pc * t_b
    # row hits: the previous burst to the same bank (same pc) opened the same row
    bank_key = (pc * hbm.bank_groups + np.asarray(bg, dtype=np.int64)) * hbm.banks_per_group \
        + np.asarray(bank, dtype=np.int64)
    border = np.argsort(bank_key, kind="stable")
    key_s, row_s = bank_key[border], np.asarray(row, dtype=np.int64)[border]
    act = np.r_[True, (key_s[1:] != key_s[:-1]) | (row_s[1:] != row_s[:-1])]
    n_banks = npc * hbm.banks_per_pc
    acts_bank = np.bincount(key_s, weights=act, minlength=n_banks)
    bursts_bank = np.bincount(key_s, minlength=n_banks)
    bank_t = np.where(acts_bank > 0, (acts_bank - 1) * t.t_rc_ns + t.t_rcd_ns
                      + bursts_bank * ccd_l, 0.0)
    bank_pc = bank_t.reshape(npc, hbm.banks_per_pc).max(axis=1)
    acts_pc = acts_bank.reshape(npc, hbm.banks_per_pc).sum(axis=1)
    act_t = np.where(acts_pc > 0, np.maximum((acts_pc - 1) * t.t_rrd_ns,
                                             np.floor((acts_pc - 1) / 4) * t.t_faw_ns)
                     + t.t_rcd_ns + t_b, 0.0)
    busy = np.where(bursts_pc > 0, np.maximum.reduce([bus, cadence, bank_pc, act_t]), 0.0)
    busy = busy * hbm.refresh_factor
    return TransferTime(float(busy.max()), float(busy.sum()), n, int(acts_bank.sum()))


@lru_cache(maxsize=1 << 15)
def transfer_time(hbm: HbmConfig, rows: int, row_bytes: int, stride_bytes: int,
                  base: int = 0, banks: tuple[int, int] | None = None) -> TransferTime:
    """Time to move ``rows`` runs of ``row_bytes`` bytes, ``stride_bytes`` apart, from ``base``.

    A run that does not fill whole bursts still moves whole bursts (over-fetch is charged).
    ``banks``: the bank-in-group range holding the data (:func:`decode_bursts`).
    """
    if rows <= 0 or row_bytes <= 0:
        return TransferTime(0.0, 0.0, 0, 0)
    bb = hbm.burst_bytes
    per_row = -(-row_bytes // bb) + 1
    sim_rows = min(rows, max(1, MAX_SIM_BURSTS // per_row))
    starts = base + np.arange(sim_rows, dtype=np.int64) * stride_bytes
    first = starts // bb
    count = (starts + row_bytes - 1) // bb - first + 1
    offs = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    idx = np.repeat(first, count) + offs
    idx = idx[np.r_[True, idx[1:] != idx[:-1]]]
    res = stream_time(hbm, *decode_bursts(hbm, idx, banks))
    if sim_rows == rows:
        return res
    scale = rows / sim_rows
    return TransferTime(res.t_alone_ns * scale, res.busy_pc_ns * scale,
                        round(res.bursts * scale), round(res.activations * scale))
