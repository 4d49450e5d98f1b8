"""LogicPIMUnit in Verilator behind a DRAM model: bit-exact GEMV / attention scores, and the
measured cycles / sustained bytes per cycle."""

from __future__ import annotations

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pim import DramModel, PimConfig, PimVerify, run_pim_tb

CFG = PimConfig(banks=4, burst_bits=64, max_tokens=8, max_k_words=16)
JOBS = (("gemv_int4", 4, 96, 3), ("gemv_int8", 1, 64, 4), ("attn_int8", 8, 40, 5),
        ("gemv_int4", 1, 200, 3), ("gemv_int8", 3, 17, 2), ("attn_int8", 1, 1, 1))


@pytest.mark.rtl
def test_ideal_dram_runs_at_ideal_cycles(sim: str) -> None:
    """Data always there (latency 1, no misses, no stalls): one beat per token per cycle."""
    plan = PimVerify(jobs=JOBS, dram=DramModel(latency=1, row_miss=0, queue=4), seed=3)
    run = run_pim_tb(CFG, plan, sim=sim)
    assert run.passed, run.failures
    for j in run.jobs:
        assert j["mismatches"] == 0
        assert j["cycles"] == j["ideal_cycles"], j
        assert j["starved_cycles"] == 0
        # a beat is held for `tokens` cycles: sustained = peak / tokens
        assert j["bytes_per_cycle"] == pytest.approx(CFG.width / 8 / j["tokens"])


@pytest.mark.rtl
def test_dram_latency_misses_and_stalls(sim: str) -> None:
    dram = DramModel(latency=12, row_bytes=256, row_miss=9, queue=8, stall=0.2)
    plan = PimVerify(jobs=JOBS[:4] + (("gemv_int4", 2, 256, 8),), dram=dram, seed=5)
    run = run_pim_tb(CFG, plan, sim=sim)
    assert run.passed, run.failures
    big = run.jobs[-1]
    assert big["row_misses"] > 1 and big["dram_stall_cycles"] > 0
    assert big["cycles"] > big["ideal_cycles"]
    assert 0 < big["bytes_per_cycle"] < CFG.width / 8


@pytest.mark.parametrize("kw,msg", [
    ({"banks": 3}, "banks: must be a power of two, not 3"),
    ({"burst_bits": 16}, "burst_bits: must be an integer in 32..256, not 16"),
    ({"max_tokens": 17}, "max_tokens: must be an integer in 1..16, not 17"),
])
def test_bad_pim_config(kw: dict[str, int], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        PimConfig(**kw)


def test_bad_job() -> None:
    with pytest.raises(ConfigError, match=r"jobs\[0\]: mode must be one of"):
        PimVerify(jobs=(("fp4", 1, 1, 1),))
