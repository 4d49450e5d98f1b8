"""ArraySpec: the pure-Python timing contract (SCALE-Sim WS formula, double-buffer recurrence,
OS drain overlap)."""

from __future__ import annotations

import itertools

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.specs import ArraySpec


@pytest.mark.parametrize("r,c,m,k,n", [(4, 4, 10, 13, 9), (8, 8, 5, 21, 6),
                                       (32, 64, 128, 4096, 4096), (3, 5, 1, 1, 1)])
def test_ws_is_scale_sim(r: int, c: int, m: int, k: int, n: int) -> None:
    s = ArraySpec(rows=r, cols=c, dataflow="ws")
    folds = -(-k // r) * -(-n // c)
    assert s.folds(m, k, n) == folds
    assert s.gemm_cycles(m, k, n) == folds * (2 * r + c + m - 2) - 1
    assert s.schedule(m, k, n)[-1].last_output == s.gemm_cycles(m, k, n)


def test_os_drain_overlapped() -> None:
    """OS: the next fold computes while the previous one drains (period max(T, R))."""
    s = ArraySpec(rows=8, cols=8, dataflow="os")
    assert s.folds(20, 30, 17) == 3 * 3
    # first fold's final beat at T - 1, then one fold per max(T, R), then the 2R + C - 2 tail
    assert s.gemm_cycles(20, 30, 17) == 29 + 8 * 30 + 16 + 8 - 2
    # groups: one fold per group; the short last group (6 < R) waits for the drain (R = 8)
    assert s.gemm_cycles(8, 30, 8, group_size=12) == 11 + 12 + 8 + 22
    assert [f.stream_start for f in s.schedule(8, 30, 8, group_size=12)] == [0, 12, 24]
    assert s.steady_period(30) == 30.0 and s.steady_period(3) == 8.0


def test_os_32x32_beats_scale_sim_503() -> None:
    """Issue 18 item 1: 32x32 OS, 64x64x64 without double buffering. SCALE-Sim v2's OS count
    is 4 folds x (R + C + K - 2) - 1 = 503; the earlier RTL (drain, then the next fold) took
    4 x (2R + C + K - 2) - 1 = 631; with the drain overlapped: 63 + 3 x 64 + 94 = 349."""
    s = ArraySpec(rows=32, cols=32, dataflow="os")
    scale_sim = s.folds(64, 64, 64) * (32 + 32 + 64 - 2) - 1
    assert scale_sim == 503
    assert s.gemm_cycles(64, 64, 64) == 349 <= scale_sim
    assert s.schedule(64, 64, 64)[-1].last_output == 349


@pytest.mark.parametrize("seed", range(3))
def test_os_period_never_above_scale_sim(seed: int) -> None:
    """Back-to-back OS folds never cost more than SCALE-Sim's R + C + T - 2 each, and the
    O(1) total equals the fold-by-fold schedule (groups, short tails, K < R)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for _ in range(200):
        r, c = (int(v) for v in rng.integers(1, 40, 2))
        m, k, n = (int(v) for v in rng.integers(1, 200, 3))
        g = None if rng.random() < 0.5 else int(rng.integers(1, 64))
        s = ArraySpec(rows=r, cols=c, dataflow="os")
        sched = s.schedule(m, k, n, g)
        assert s.gemm_cycles(m, k, n, g) == sched[-1].last_output
        ends = [f.last_output for f in sched]
        for a, b, f in zip(ends, ends[1:], sched[1:], strict=False):
            assert b - a == max(f.stream_len, r) <= r + c + f.stream_len - 2
        assert s.steady_period(k) == s.fold_cycles(m, k, n) <= r + c + k - 2


def test_double_buffer_closed_form_equals_recurrence() -> None:
    for r, c, lat, m, f in itertools.product((1, 2, 4, 8), (1, 3, 8), (0, 1), (1, 2, 5, 9, 30),
                                             (1, 2, 3, 7, 15, 40)):
        s = ArraySpec(rows=r, cols=c, dataflow="ws", double_buffer=True, pe_latency=lat)
        brute = s._schedule([m] * f)[-1].last_output
        assert s.gemm_cycles(m, f * r, c) == brute, (r, c, lat, m, f)


def test_double_buffer_hides_load_for_long_streams() -> None:
    s = ArraySpec(rows=4, cols=4, dataflow="ws", double_buffer=True)
    base = ArraySpec(rows=4, cols=4, dataflow="ws")
    assert s.steady_period(64) == 64.0 and base.steady_period(64) == 74.0
    assert s.gemm_cycles(64, 64, 64) < base.gemm_cycles(64, 64, 64)
    # never slower than the single-bank schedule, never faster than streaming alone
    for m in range(1, 20):
        assert s.gemm_cycles(m, 40, 8) <= base.gemm_cycles(m, 40, 8)
        assert s.gemm_cycles(m, 40, 8) >= s.folds(m, 40, 8) * m


def test_group_folds_never_straddle() -> None:
    s = ArraySpec(rows=4, cols=4)
    assert s.folds(5, 14, 5, group_size=6) == (2 + 2 + 1) * 2
    assert s.fold_latency(5) == 2 * 4 + 4 + 5 - 3


@pytest.mark.parametrize("dataflow,db", [("ws", False), ("ws", True), ("os", False)])
def test_edge_units_delay_outputs_not_occupancy(dataflow: str, db: bool) -> None:
    """Pipelined edge units (group dequant / readout) add D to every output, not to periods."""
    base = ArraySpec(rows=4, cols=4, dataflow=dataflow, double_buffer=db)  # type: ignore[arg-type]
    dq = ArraySpec(rows=4, cols=4, dataflow=dataflow,  # type: ignore[arg-type]
                   double_buffer=db, dequant_latency=5)
    for m, k, n, g in [(5, 7, 6, None), (9, 20, 5, 8), (1, 1, 1, None), (30, 40, 9, 5)]:
        assert dq.gemm_cycles(m, k, n, g) == base.gemm_cycles(m, k, n, g) + 5
        for a, b in zip(dq.schedule(m, k, n, g), base.schedule(m, k, n, g), strict=True):
            assert (a.load_start, a.stream_start, a.last_output) == (
                b.load_start, b.stream_start, b.last_output + 5)
    assert dq.steady_period(7) == base.steady_period(7)
    assert dq.fold_latency(3) == base.fold_latency(3) + 5


@pytest.mark.parametrize("kw,msg", [
    ({"rows": 0, "cols": 4}, "rows: must be a positive integer, not 0"),
    ({"rows": 4, "cols": 4, "dataflow": "is"}, "dataflow: must be 'ws' or 'os', not 'is'"),
    ({"rows": 4, "cols": 4, "dataflow": "os", "double_buffer": True},
     "double_buffer: needs the 'ws' dataflow, not 'os'"),
    ({"rows": 4, "cols": 4, "pe_latency": -1}, "pe_latency: must be an integer >= 0, not -1"),
    ({"rows": 4, "cols": 4, "dequant_latency": -2},
     "dequant_latency: must be an integer >= 0, not -2"),
])
def test_bad_spec(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArraySpec(**kw)  # type: ignore[arg-type]


def test_bad_shape() -> None:
    with pytest.raises(ConfigError, match="M: must be a positive integer, not 0"):
        ArraySpec(rows=4, cols=4).gemm_cycles(0, 4, 4)
