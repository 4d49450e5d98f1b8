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

**Resource-bound model, not a command scheduler.** Each pseudo-channel serves its bursts in
order with an open-page policy and a DMA engine that keeps many requests in flight (an xPU's
copy engines do), so activations of the next rows overlap data of the current ones. Its busy
time is the largest of the *occupancies* the JEDEC constraints imply (throughput, not latency):

* data bus: ``bursts * t_burst``;
* column commands: the sum of tCCD_S / tCCD_L gaps (same bank group -> tCCD_L) + one burst;
* each bank: per activation ``tRCD + tRP`` plus ``tCCD_L`` per read of that row, at least
  ``tRC`` (row misses serialise on tRC);
* activations: ``acts * max(tRRD, tFAW / 4)`` (tFAW allows four per window);

then refresh takes its share (:attr:`~mixforge.sim.arch.hbm.HbmConfig.refresh_factor`: all-bank
refresh stops the pc for tRFC every tREFI; per-bank refresh only stretches bank occupancy).
The first access's latency (tRCD + CL) is not in the busy time: callers charge it once per op
(one DMA pipeline fill), not once per transfer. A streaming read is thus bound by the data bus
and refresh (e.g. HBM2E with tRFC = 450 ns / tREFI = 3.9 us: 88.5% of pin bandwidth); it is
exact for such uniform streams and an optimistic (never pessimistic) bound in between: no
read/write turnaround, no controller queue limits. :func:`binding_resource` names what bounds
a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mixforge.sim.arch.hbm import HbmConfig

__all__ = ["TransferTime", "decode_bursts", "stream_time", "transfer_time", "MAX_SIM_BURSTS",
           "binding_resource", "DRAM_MODEL"]

#: One-line description of the DRAM model, for result notes.
DRAM_MODEL = ("resource-bound HBM model (bus, tCCD_S/L, bank tRC, tRRD/tFAW occupancies + "
              "refresh; latency once per op), not a command scheduler")

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


def _occupancies(hbm: HbmConfig, pc: np.ndarray, bg: np.ndarray, bank: np.ndarray,
                 row: np.ndarray, linear: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """Per pc: rows (bus, cadence, bank, activation window) of busy ns; bursts per pc; acts.

    ``linear``: the bursts are a slice of a contiguous stream (module doc): each burst pays
    its share ``burst_bytes / row_bytes`` of its row's activation.
    """
    t = hbm.timing
    npc = hbm.n_pcs
    t_b = hbm.t_burst_ns
    ccd_s, ccd_l = max(t.t_ccd_s_ns, t_b), max(t.t_ccd_l_ns, t_b)
    pc = np.asarray(pc, dtype=np.int64)
    order = np.argsort(pc, kind="stable")
    pc_s, bg_s = pc[order], np.asarray(bg, dtype=np.int64)[order]
    same_pc = np.r_[False, pc_s[1:] == pc_s[:-1]]
    gap = np.where(bg_s[1:] == bg_s[:-1], ccd_l, ccd_s) * same_pc[1:]
    bursts_pc = np.bincount(pc, minlength=npc)
    cadence = np.bincount(pc_s[1:], weights=gap, minlength=npc) + np.where(bursts_pc > 0, t_b, 0)
    bus = bursts_pc * t_b
    # row hits: the previous burst to the same bank (same pc) opened the same row
    bank_key = (pc * hbm.bank_groups + np.asarray(bg, dtype=np.int64)) * hbm.banks_per_group \
        + np.asarray(bank, dtype=np.int64)
    border = np.argsort(bank_key, kind="stable")
    key_s, row_s = bank_key[border], np.asarray(row, dtype=np.int64)[border]
    n_banks = npc * hbm.banks_per_pc
    bursts_bank = np.bincount(key_s, minlength=n_banks)
    if linear:
        acts_bank = bursts_bank.astype(np.float64) * (hbm.burst_bytes / hbm.row_bytes)
    else:
        act = np.r_[True, (key_s[1:] != key_s[:-1]) | (row_s[1:] != row_s[:-1])]
        acts_bank = np.bincount(key_s, weights=act, minlength=n_banks).astype(np.float64)
    # an activation holds its bank for tRCD + its reads (tCCD_L apart) + tRP, at least tRC
    bank_t = np.maximum(acts_bank * t.t_rc_ns,
                        acts_bank * (t.t_rcd_ns + t.t_rp_ns) + bursts_bank * ccd_l)
    bank_t = bank_t * hbm.bank_refresh_factor
    bank_pc = bank_t.reshape(npc, hbm.banks_per_pc).max(axis=1)
    acts_pc = acts_bank.reshape(npc, hbm.banks_per_pc).sum(axis=1)
    act_t = acts_pc * max(t.t_rrd_ns, t.t_faw_ns / 4) * hbm.act_refresh_factor
    return np.stack([bus, cadence, bank_pc, act_t]), bursts_pc, int(round(acts_bank.sum()))


#: Names of the rows :func:`_occupancies` returns, in order.
_RESOURCES = ("data bus", "tCCD_S/L column cadence", "bank row cycles (tRC)",
              "activation window (tRRD/tFAW)")


def stream_time(hbm: HbmConfig, pc: np.ndarray, bg: np.ndarray, bank: np.ndarray,
                row: np.ndarray, linear: bool = False) -> TransferTime:
    """Time to serve bursts (in issue order) at the given pseudo-channels / banks / rows.

    ``linear``: the bursts are a slice of a contiguous stream whose neighbouring slices the DMA
    reads next, so rows are shared with them (each burst pays its share of an activation);
    otherwise every row a bank switches to costs a whole activation.
    """
    n = int(np.size(pc))
    if n == 0:
        return TransferTime(0.0, 0.0, 0, 0)
    occ, bursts_pc, acts = _occupancies(hbm, pc, bg, bank, row, linear)
    busy = np.where(bursts_pc > 0, occ.max(axis=0), 0.0) * hbm.refresh_factor
    return TransferTime(float(busy.max()), float(busy.sum()), n, acts)


def binding_resource(hbm: HbmConfig, nbytes: int = 1 << 22) -> tuple[str, float]:
    """What bounds a linear read of ``nbytes`` on ``hbm``, and its achieved fraction of pin
    bandwidth (refresh included)."""
    bb = hbm.burst_bytes
    idx = np.arange(-(-nbytes // bb), dtype=np.int64)
    occ, _, _ = _occupancies(hbm, *decode_bursts(hbm, idx), linear=True)
    tot = occ.sum(axis=1)
    worst = int(np.argmax(tot >= tot.max() * (1 - 1e-9)))  # ties: the data bus first
    busy = float(occ.max(axis=0).sum()) / hbm.n_pcs * hbm.refresh_factor  # all pcs at once
    frac = idx.size * bb / hbm.peak_bw_bytes_per_s * 1e9 / busy
    name = _RESOURCES[worst]
    if hbm.refresh_factor > 1:
        name += f" + all-bank refresh (tRFC {hbm.timing.t_rfc_ns:g} ns / tREFI " \
                f"{hbm.timing.t_refi_ns:g} ns)"
    return name, frac


@lru_cache(maxsize=1 << 15)
def transfer_time(hbm: HbmConfig, rows: int, row_bytes: int, stride_bytes: int,
                  base: int = 0, banks: tuple[int, int] | None = None) -> TransferTime:
    """Time to move ``rows`` runs of ``row_bytes`` bytes, ``stride_bytes`` apart, from ``base``.

    A run that does not fill whole bursts still moves whole bursts (over-fetch is charged).
    ``banks``: the bank-in-group range holding the data (:func:`decode_bursts`). One run, or
    runs back to back (``stride_bytes == row_bytes``), is a slice of a contiguous tensor (a
    tile-contiguous layout stores tile after tile): its DRAM rows continue into the slices the
    DMA fetches next, so it pays its share of their activations (:func:`stream_time`,
    ``linear``). Strided runs open their rows on their own.
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
    linear = rows == 1 or stride_bytes == row_bytes
    res = stream_time(hbm, *decode_bursts(hbm, idx, banks), linear=linear)
    if sim_rows == rows:
        return res
    scale = rows / sim_rows
    return TransferTime(res.t_alone_ns * scale, res.busy_pc_ns * scale,
                        round(res.bursts * scale), round(res.activations * scale))
