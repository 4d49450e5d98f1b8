"""Arrivals, length distributions, trace formats (detected by header), bad traces, routing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.errors import ConfigError
from mixforge.workloads.serving.arrivals import (
    LengthDist,
    gamma_times,
    parse_length_dist,
    poisson_times,
    synthetic_requests,
)
from mixforge.workloads.serving.routing import (
    Routing,
    RoutingSampler,
    expert_popularity,
    parse_routing,
)
from mixforge.workloads.serving.traces import read_trace, write_trace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traces" / "synthetic_conv.jsonl"


def test_poisson_and_gamma_rates_and_burstiness() -> None:
    rng = np.random.default_rng(1)
    gaps = np.diff(poisson_times(50_000, 8.0, rng))
    assert gaps.mean() == pytest.approx(1 / 8, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.03)
    g = np.diff(gamma_times(50_000, 8.0, 3.0, rng))
    assert g.mean() == pytest.approx(1 / 8, rel=0.05)
    assert g.std() / g.mean() == pytest.approx(3.0, rel=0.05)


def test_length_distributions() -> None:
    rng = np.random.default_rng(2)
    assert set(parse_length_dist("512").sample(10, rng)) == {512}
    u = parse_length_dist("uniform:256:4096").sample(10_000, rng)
    assert u.min() >= 256 and u.max() <= 4096
    ln = parse_length_dist("lognormal:1000:0.5:3000").sample(20_000, rng)
    assert np.median(ln) == pytest.approx(1000, rel=0.03) and ln.max() <= 3000
    with pytest.raises(ConfigError, match="--prompt-len"):
        parse_length_dist("gauss:3", path="--prompt-len")


@pytest.mark.parametrize("fmt", ["jsonl", "vidur", "azure"])
def test_trace_round_trip_every_format(tmp_path: Path, fmt: str) -> None:
    reqs = synthetic_requests(50, 4.0, LengthDist("uniform", 10, 900),
                              LengthDist("uniform", 1, 300), np.random.default_rng(0))
    path = write_trace(reqs, tmp_path / f"t.{fmt}", fmt)
    back = read_trace(path)
    np.testing.assert_allclose(back.arrival_s, reqs.arrival_s - reqs.arrival_s[0], atol=2e-6)
    assert np.array_equal(back.prompt, reqs.prompt)
    assert np.array_equal(back.output, reqs.output)
    assert fmt in back.source


def test_azure_timestamps(tmp_path: Path) -> None:
    p = tmp_path / "azure.csv"
    p.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                 "2023-11-16 18:15:46.6805900,374,44\n"
                 "2023-11-16 18:15:50.9951690,396,109\n")
    r = read_trace(p)
    np.testing.assert_allclose(r.arrival_s, [0.0, 4.314579], atol=1e-6)
    assert r.prompt.tolist() == [374, 396]


@pytest.mark.parametrize(("text", "where"), [
    ("arrived_at,num_prefill_tokens\n0.1,5\n", "line 1, column num_decode_tokens"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0.1,5,3\n0.2,-4,3\n",
     "line 3, column num_prefill_tokens: negative"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,5,3\n0.2,4,3\n",
     "line 3, column arrived_at: .*sorted"),
    ("arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,5,x\n",
     "line 2, column num_decode_tokens: not a whole number"),
    ("a,b,c\n1,2,3\n", "line 1: unknown trace header"),
    ('{"arrival_time_s": 0, "input_tokens": 5, "output_tokens": 2}\n'
     '{"arrival_time_s": 1, "input_tokens": 5}\n', "line 2, column output_tokens: missing"),
    ('{"arrival_time_s": 0, "input_tokens": 5, "output_tokens": 2}\n{oops\n',
     "line 2, column 2: invalid JSON"),
])
def test_bad_trace_names_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ConfigError, match=where) as exc:
        read_trace(p)
    assert "\n" not in str(exc.value) and "bad.txt" in str(exc.value)


def test_shipped_example_trace_reads() -> None:
    r = read_trace(EXAMPLE)
    assert len(r) >= 100 and r.arrival_s[0] == 0.0


def test_routing_shares_and_counts() -> None:
    rng = np.random.default_rng(0)
    p = expert_popularity(parse_routing("zipf:1.2"), 4, 8, rng)
    assert np.allclose(p.sum(axis=1), 1) and p.max() > 2 / 8
    s = RoutingSampler(p, 2, rng)
    tot = sum(s.sample(64) for _ in range(400))
    assert np.all(s.sample(64).sum(axis=1) <= 128)
    np.testing.assert_allclose(tot / tot.sum(axis=1, keepdims=True), p, atol=0.01)
    u = expert_popularity(Routing(), 2, 8, rng)
    assert np.allclose(u, 1 / 8)
    with pytest.raises(ConfigError, match="routing"):
        parse_routing("powerlaw")


def test_routing_trace_file(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("layer,expert,count\n0,0,30\n0,1,10\n1,1,5\n")
    p = expert_popularity(Routing("trace", path=str(f)), 2, 2, np.random.default_rng(0))
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.0, 1.0]])
    f.write_text("layer,expert,count\n0,0,30\n0,5,10\n")
    with pytest.raises(ConfigError, match="line 3, column expert"):
        expert_popularity(Routing("trace", path=str(f)), 1, 2, np.random.default_rng(0))
