"""Continuous-batching engine on a closed-form cost: conservation, exact tokens, Little's law,
determinism, preemption, rejection, degenerate single-request case."""

from __future__ import annotations

import numpy as np
import pytest
from serving_fake import LinearCost

from mixforge.errors import ConfigError
from mixforge.workloads.serving.arrivals import LengthDist, Requests, synthetic_requests
from mixforge.workloads.serving.engine import DONE, REJECTED, ServeConfig, simulate
from mixforge.workloads.serving.metrics import summarize


def _reqs(n: int = 400, rate: float = 100.0, seed: int = 0, cv: float = 1.0) -> Requests:
    rng = np.random.default_rng(seed)
    return synthetic_requests(n, rate, LengthDist("lognormal", 300, 0.8, 2000),
                              LengthDist("lognormal", 80, 0.8, 600), rng, cv=cv)


@pytest.mark.parametrize("chunk", [0, 256])
@pytest.mark.parametrize("policy", ["recompute", "swap"])
def test_every_request_served_once_with_exact_tokens(chunk: int, policy: str) -> None:
    reqs = _reqs()
    cost = LinearCost(kv_tokens=20_000)  # tight: forces preemptions
    run = simulate(reqs, cost, ServeConfig(max_batch=64, prefill_chunk=chunk,
                                           preemption=policy))  # type: ignore[arg-type]
    assert np.all(run.status == DONE)
    assert np.array_equal(run.generated, reqs.output)
    assert run.tbt_s.size == int((reqs.output - 1).sum())
    assert np.all(run.first_token_s >= reqs.arrival_s)
    assert np.all(run.finish_s >= run.first_token_s)
    assert run.preemptions.sum() > 0
    # every decode step and prefill token is accounted for in the iterations
    recomputed = int(run.it_prefill.sum()) - int(reqs.prompt.sum())
    assert recomputed >= 0 and (recomputed > 0) == (policy == "recompute")
    steps = int((reqs.output - 1).sum())
    if policy == "swap":
        assert int(run.it_decode.sum()) == steps
    else:  # a recompute's prefill emits the next token instead of a decode step
        assert steps - int(run.preemptions.sum()) <= int(run.it_decode.sum()) <= steps
    assert run.it_kv_tokens.max() <= run.kv_capacity_tokens
    assert (run.swap_bytes > 0) == (policy == "swap")


def test_littles_law_within_two_percent() -> None:
    run = simulate(_reqs(n=3000, rate=25.0), LinearCost(), ServeConfig(max_batch=128))
    ll = summarize(run)["littles_law"]
    assert ll["L_time_avg"] == pytest.approx(ll["lambda_W"], rel=0.02)
    assert ll["L_time_avg"] > 1.0  # a queue actually formed


def test_same_seed_bit_identical_different_seed_differs() -> None:
    a = summarize(simulate(_reqs(seed=3), LinearCost(), ServeConfig(max_batch=32)))
    b = summarize(simulate(_reqs(seed=3), LinearCost(), ServeConfig(max_batch=32)))
    c = summarize(simulate(_reqs(seed=4), LinearCost(), ServeConfig(max_batch=32)))
    assert a == b
    assert a != c


def test_single_request_reduces_to_prefill_and_decode_steps() -> None:
    reqs = Requests(np.array([0.5]), np.array([1000]), np.array([20]))
    cost = LinearCost()
    run = simulate(reqs, cost)
    ttft = run.first_token_s[0] - 0.5
    assert ttft == pytest.approx(cost.prefill_seconds(1000), rel=1e-12)
    expected = [cost.base + cost.per_token + cost.per_kv * (1001 + i) for i in range(19)]
    np.testing.assert_allclose(run.tbt_s, expected, rtol=1e-12)


def test_chunked_prefill_limits_tokens_per_iteration() -> None:
    run = simulate(_reqs(n=200), LinearCost(), ServeConfig(max_batch=64, prefill_chunk=128,
                                                           max_batched_tokens=512))
    assert np.all(run.it_prefill + run.it_decode <= 512)
    assert np.all(run.status == DONE)


def test_max_batch_respected_and_reached() -> None:
    run = simulate(_reqs(n=600, rate=200.0), LinearCost(), ServeConfig(max_batch=16))
    assert run.it_decode.max() == 16


def test_never_fitting_request_is_rejected_not_a_crash() -> None:
    reqs = Requests(np.array([0.0, 0.1, 0.2]), np.array([100, 5000, 100]),
                    np.array([10, 10, 10]))
    run = simulate(reqs, LinearCost(kv_tokens=4096))
    assert list(run.status) == [DONE, REJECTED, DONE]
    s = summarize(run)
    assert s["requests"]["rejected"] == 1 and s["requests"]["served"] == 2


def test_no_kv_room_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no room for a KV cache"):
        simulate(_reqs(n=5), LinearCost(kv_tokens=4))


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ConfigError, match="preemption"):
        ServeConfig(preemption="drop")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_batch"):
        ServeConfig(max_batch=0)
