"""KV-length bucketing: interpolation between cached bucket edges, error bound, roofline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.engine.bucket import BUCKET_REL_ERROR, KvBucket
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Attention

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def test_bucket_edges() -> None:
    lin = KvBucket(step=256)
    assert lin.edges(300) == (256, 512)
    assert lin.edges(512) == (512, 512)  # an edge is exact
    assert lin.edges(100) == (100, 100)  # below the first edge: exact
    geo = KvBucket(ratio=2.0, min_len=64)
    assert geo.edges(100) == (64, 128) and geo.edges(128) == (128, 128)
    assert geo.edges(32) == (32, 32)
    for length in range(65, 5000, 37):
        lo, hi = KvBucket(ratio=1.25).edges(length)
        assert lo < length <= hi and hi <= 1.25 * lo + 1
    assert not KvBucket().enabled
    with pytest.raises(ConfigError, match="ratio"):
        KvBucket(ratio=0.5)
    with pytest.raises(ConfigError, match="not both"):
        KvBucket(step=64, ratio=1.5)


@pytest.mark.parametrize("hw", ["h100_like", "duplex"])
def test_bucketed_within_bound_and_never_below_roofline(hw: str) -> None:
    arch = load_arch(EXAMPLES / f"{hw}.yaml")
    exact_sim = Simulator(arch)
    bucketed = Simulator(arch, kv_bucket=KvBucket(step=256))
    rng = np.random.default_rng(5)
    for length in rng.integers(256, 8192, 25):
        for batch in (1, 32):
            op = Attention(batch, 1, int(length), 32, 8, 128)
            exact, approx = exact_sim.run_op(op), bucketed.run_op(op)
            assert approx.seconds >= exact.roofline_seconds
            assert approx.macs == exact.macs
            if approx.unit == exact.unit:
                assert approx.roofline_seconds == pytest.approx(exact.roofline_seconds)
            else:  # "best" dispatch may flip only where the two units nearly tie
                other = exact_sim.run_op(op, approx.unit)
                assert other.seconds <= exact.seconds * (1 + BUCKET_REL_ERROR), (length, batch)
            err = (approx.seconds - exact.seconds) / exact.seconds
            if batch * op.kv_heads >= 64:
                assert abs(err) <= BUCKET_REL_ERROR, (length, err)
            else:
                assert -0.36 <= err <= 0.15, (length, err)
    # only bucket edges are simulated: at most 2 per (bucket, batch), 8192 / 256 buckets
    assert bucketed.cache_stats()["misses"] <= 2 * 2 * 8192 // 256


def test_off_is_exact_and_edges_are_cached() -> None:
    arch = load_arch(EXAMPLES / "h100_like.yaml")
    plain = Simulator(arch)
    off = Simulator(arch, kv_bucket=KvBucket())
    op = Attention(4, 1, 1000, 32, 8, 128)
    assert off.kv_bucket is None
    assert off.run_op(op).seconds == plain.run_op(op).seconds
    sim_ = Simulator(arch, kv_bucket=KvBucket(step=256))
    for length in range(769, 1024, 7):  # one bucket: two simulations in all
        sim_.run_op(Attention(4, 1, length, 32, 8, 128))
    stats = sim_.cache_stats()
    assert stats["misses"] == 2 and stats["hit_rate"] > 0.95
    r = sim_.run_op(Attention(4, 1, 1000, 32, 8, 128))
    lo = sim_.run_op(Attention(4, 1, 768, 32, 8, 128))
    hi = sim_.run_op(Attention(4, 1, 1024, 32, 8, 128))
    assert lo.seconds <= r.seconds <= hi.seconds
    # prefill (many query tokens) is simulated exactly
    pre = Attention(1, 300, 300, 32, 8, 128)
    assert sim_.run_op(pre).seconds == plain.run_op(pre).seconds
