"""xPU and logic-PIM streaming at once: bank sharing and row conflicts at DRAM-burst level.

Duplex runs the xPU and the logic-PIM concurrently on different bank bundles of every
pseudo-channel (``pim.bank_partition: split``); with ``shared`` both units' data is spread over
all banks. :func:`interference` simulates one pseudo-channel (all pcs see the same pattern):

1. Each unit streams its data linearly (the address map of :mod:`mixforge.sim.engine.dram`,
   confined to the unit's banks) at its demanded byte rate; the two burst sequences are merged
   in time order.
2. A burst is a row hit when the previous burst *of either unit* to the same bank opened the
   same row, so interleaved streams in one bank turn each other's hits into misses; every miss
   is one activation, charged to the unit that issued it.
3. Each unit's duration is the largest of its resource occupancies, as in the single-stream
   model: its data path (xPU: the pc's pins, ``t_burst`` per burst; PIM: the TSVs, at
   ``pim.pc_bw_bytes_per_s``), every bank it uses (per activation ``tRCD + tRP`` plus
   ``tCCD_L`` per burst read, at least ``tRC``) and the pc's activation window
   (``max(tRRD, tFAW / 4)`` per activation), but a resource both units use is shared fairly:
   a unit with load ``L`` against another's ``L'`` needs ``L + min(L, L')`` (round robin
   while both are busy) -- and never less than its demanded time.

With ``split`` the units share no bank and no data path; the only resource they still share is
the activation window (tRRD/tFAW limit activations per pc for the whole die stack's power
delivery), so each unit's concurrent time equals its time alone unless that window binds (it
does not at Duplex's rates: a PIM bundle step of 8 activations takes ~100 ns, tFAW allows 4 per
30 ns). Banks serve bursts in arrival order (no FR-FCFS batching of row hits), so ``shared``
is the pessimistic end of what a controller would achieve. The result is a slowdown factor per
unit that :meth:`mixforge.sim.engine.simulator.Simulator.run_concurrent` applies to the
overlapped time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.dram import decode_bursts

__all__ = ["Interference", "interference", "WINDOW_BURSTS"]

#: Bursts of both units simulated per pseudo-channel (the pattern repeats beyond this).
WINDOW_BURSTS = 8192


@dataclass(frozen=True)
class Interference:
    """Effect of running the xPU and the PIM at once, per pseudo-channel window.

    Parameters
    ----------
    slowdown_xpu, slowdown_pim
        Concurrent / alone duration of each unit's share of the window (>= 1).
    acts_alone, acts_together
        Row activations of the window when the two streams run one after the other / merged.
    window_ns
        Duration of the window when the units run alone (the longer of the two).
    """

    slowdown_xpu: float
    slowdown_pim: float
    acts_alone: int
    acts_together: int
    window_ns: float

    @property
    def extra_activations(self) -> int:
        """Row misses caused by the other unit (0 with disjoint banks)."""
        return self.acts_together - self.acts_alone


def _unit_loads(arch: ArchConfig, unit: np.ndarray, bank: np.ndarray, row: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (0 = xPU, 1 = PIM): per-bank busy ns, and activations, in the merged order."""
    hbm, t = arch.hbm, arch.hbm.timing
    nb = hbm.banks_per_pc
    order = np.argsort(bank, kind="stable")  # per bank, in time order
    b_s, r_s, u_s = bank[order], row[order], unit[order]
    act = np.r_[True, (b_s[1:] != b_s[:-1]) | (r_s[1:] != r_s[:-1])]
    ccd_l = max(t.t_ccd_l_ns, hbm.t_burst_ns)
    loads = np.zeros((2, nb))
    acts = np.zeros(2)
    for u in (0, 1):
        sel = u_s == u
        n_b = np.bincount(b_s[sel], minlength=nb)
        a_b = np.bincount(b_s[sel], weights=act[sel], minlength=nb)
        # an activation holds the bank for tRCD + its reads + tRP, and at least tRC
        loads[u] = np.maximum(a_b * t.t_rc_ns, a_b * (t.t_rcd_ns + t.t_rp_ns) + n_b * ccd_l)
        acts[u] = a_b.sum()
    return loads, acts


def _durations(arch: ArchConfig, unit: np.ndarray, bank: np.ndarray, row: np.ndarray,
               data_ns: tuple[float, float], demand_ns: tuple[float, float]
               ) -> tuple[tuple[float, float], int]:
    t = arch.hbm.timing
    loads, acts = _unit_loads(arch, unit, bank, row)
    win = acts * max(t.t_rrd_ns, t.t_faw_ns / 4)
    out = []
    for u, o in ((0, 1), (1, 0)):
        if not (unit == u).any():
            out.append(0.0)
            continue
        bank_t = float(np.max(loads[u] + np.minimum(loads[u], loads[o])))
        act_t = float(win[u] + min(win[u], win[o]))
        out.append(max(demand_ns[u], data_ns[u], bank_t, act_t))
    return (out[0], out[1]), int(acts.sum())


@lru_cache(maxsize=4096)
def _interference(arch: ArchConfig, xpu_rate: float, pim_rate: float) -> Interference:
    hbm, pim = arch.hbm, arch.pim
    assert pim is not None
    one = dataclasses.replace(hbm, stacks=1, channels_per_stack=1, pcs_per_channel=1)
    bb = hbm.burst_bytes
    rx, rp = xpu_rate / hbm.n_pcs / bb, pim_rate / hbm.n_pcs / bb  # bursts per ns per pc
    n_x = int(round(WINDOW_BURSTS * rx / (rx + rp)))
    n_p = WINDOW_BURSTS - n_x
    xb, pb = pim.bank_ranges(hbm)
    # the PIM's data sits far from the xPU's (other rows) when they share the banks
    far = (hbm.rows_per_bank // 2) * (hbm.row_bytes // bb) * hbm.banks_per_pc
    streams = []
    for u, n, rate, banks, base in ((0, n_x, rx, xb, 0), (1, n_p, rp, pb, far)):
        _, bg, bk, row = decode_bursts(one, base + np.arange(n, dtype=np.int64), banks)
        streams.append((np.full(n, u, dtype=np.int64), (bg * hbm.banks_per_group + bk),
                        row, np.arange(n) / rate))
    unit = np.concatenate([s[0] for s in streams])
    bank = np.concatenate([s[1] for s in streams])
    row = np.concatenate([s[2] for s in streams])
    when = np.concatenate([s[3] for s in streams])
    merged = np.argsort(when, kind="stable")
    data_ns = (n_x * hbm.t_burst_ns, n_p * bb / pim.pc_bw_bytes_per_s(hbm) * 1e9)
    demand_ns = (n_x / rx, n_p / rp)
    together, acts_t = _durations(arch, unit[merged], bank[merged], row[merged], data_ns,
                                  demand_ns)
    alone_x, acts_x = _durations(arch, unit[:n_x], bank[:n_x], row[:n_x], data_ns, demand_ns)
    alone_p, acts_p = _durations(arch, unit[n_x:], bank[n_x:], row[n_x:], data_ns, demand_ns)
    sx = together[0] / alone_x[0] if n_x else 1.0
    sp = together[1] / alone_p[1] if n_p else 1.0
    return Interference(slowdown_xpu=sx, slowdown_pim=sp, acts_alone=acts_x + acts_p,
                        acts_together=acts_t,
                        window_ns=max(alone_x[0], alone_p[1]) * hbm.refresh_factor)


def interference(arch: ArchConfig, xpu_bytes_per_s: float, pim_bytes_per_s: float
                 ) -> Interference:
    """Slowdowns of the xPU and PIM streaming ``*_bytes_per_s`` (whole device) at once.

    Rates are rounded to 3 significant digits for the cache. Either rate 0 -> no interference.
    """
    if arch.pim is None or xpu_bytes_per_s <= 0 or pim_bytes_per_s <= 0:
        return Interference(1.0, 1.0, 0, 0, 0.0)
    return _interference(arch, float(f"{xpu_bytes_per_s:.3g}"), float(f"{pim_bytes_per_s:.3g}"))
