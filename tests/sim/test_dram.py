"""DRAM timing model: row hits vs misses, tCCD_L vs tCCD_S, refresh, bandwidth ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from mixforge.sim.arch import HBM2E, HBM3
from mixforge.sim.engine.dram import decode_bursts, stream_time, transfer_time


def _stream(n: int, *, bg: np.ndarray, bank: np.ndarray, row: np.ndarray):  # type: ignore[no-untyped-def]
    return stream_time(HBM2E, np.zeros(n, dtype=np.int64), bg, bank, row)


def test_row_hits_beat_row_misses() -> None:
    n = 64
    t = HBM2E.timing
    zeros = np.zeros(n, dtype=np.int64)
    alt_bg = np.arange(n) % 4
    hit = _stream(n, bg=alt_bg, bank=zeros, row=zeros)
    miss = _stream(n, bg=zeros, bank=zeros, row=np.arange(n))  # one bank, a new row each burst
    assert hit.activations == 4 and miss.activations == n
    # every miss in one bank holds it for a full row cycle (occupancy, not latency)
    assert miss.t_alone_ns == pytest.approx(
        max(n * t.t_rc_ns, n * (t.t_rcd_ns + t.t_rp_ns + t.t_ccd_l_ns)) * HBM2E.refresh_factor,
        rel=1e-9)
    assert miss.t_alone_ns > 10 * hit.t_alone_ns


def test_tccd_long_vs_short() -> None:
    n = 256
    zeros = np.zeros(n, dtype=np.int64)
    same_bg = _stream(n, bg=zeros, bank=zeros, row=zeros)
    alt_bg = _stream(n, bg=np.arange(n) % 4, bank=zeros, row=zeros)
    t = HBM2E.timing
    assert alt_bg.t_alone_ns == pytest.approx(n * t.t_ccd_s_ns * HBM2E.refresh_factor, rel=0.02)
    # one bank: opened once (tRCD), a read every tCCD_L, closed (tRP)
    assert same_bg.t_alone_ns == pytest.approx((t.t_rcd_ns + n * t.t_ccd_l_ns + t.t_rp_ns)
                                               * HBM2E.refresh_factor, rel=0.01)
    assert same_bg.t_alone_ns / alt_bg.t_alone_ns > 1.9


@pytest.mark.parametrize("hbm", [HBM2E, HBM3])
def test_sequential_stream_near_but_below_peak(hbm) -> None:  # type: ignore[no-untyped-def]
    nbytes = 1 << 22
    tt = transfer_time(hbm, 1, nbytes, nbytes)
    bw = nbytes / (tt.t_alone_ns * 1e-9)
    assert bw <= hbm.peak_bw_bytes_per_s
    assert bw >= 0.9 * hbm.peak_bw_bytes_per_s / hbm.refresh_factor
    assert tt.bursts * hbm.burst_bytes == nbytes


def test_refresh_stretches_time() -> None:
    # Ramulator 2.0 tRFC table: 450 ns for a 16-Gb (HBM2E 16 GiB stack) channel, 350 for 8 Gb
    assert HBM2E.refresh_factor == pytest.approx(3900 / (3900 - 450))
    assert HBM3.refresh_factor == pytest.approx(3900 / (3900 - 350))


def test_address_map_is_a_bijection() -> None:
    n = HBM2E.n_pcs * HBM2E.banks_per_pc * (HBM2E.row_bytes // HBM2E.burst_bytes) * 2
    pc, bg, bank, row = decode_bursts(HBM2E, np.arange(n))
    cols = HBM2E.row_bytes // HBM2E.burst_bytes
    keys = ((pc * 4 + bg) * 4 + bank) * 2 + row
    counts = np.bincount(keys)
    assert counts.size == HBM2E.n_pcs * HBM2E.banks_per_pc * 2
    assert (counts == cols).all()  # each (bank, row) holds exactly one row of bursts


def test_overfetch_is_charged() -> None:
    # 64 runs of 16 B (FP4 rows of 32 elements) still move whole 32-B bursts
    tt = transfer_time(HBM2E, 64, 16, 4096)
    assert tt.bursts == 64
