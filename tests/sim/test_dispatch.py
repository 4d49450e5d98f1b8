"""Dispatch between xPU and logic-PIM (issue 18 item 5): the default never loses to a forced
unit, Duplex's Op/B threshold stays available by name, and every result says why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import DISPATCH_POLICIES, Simulator
from mixforge.sim.mapping.ops import Attention, Gemm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"
DUPLEX = load_arch(EXAMPLES / "duplex.yaml")
# the issue's reproducer: 512 independent 4x2304x128 FP16 GEMMs (own weights each)
ISSUE_OP = Gemm(4, 2304, 128, batch=512, w="float16", a="float16", shared_b=False,
                name="gemm 4x2304x128")


def test_issue_op_goes_to_the_faster_unit() -> None:
    best = Simulator(DUPLEX).run_op(ISSUE_OP)
    xpu = Simulator(DUPLEX, dispatch="xpu").run_op(ISSUE_OP)
    pim = Simulator(DUPLEX, dispatch="pim").run_op(ISSUE_OP)
    assert pim.seconds > 2 * xpu.seconds  # the case the Op/B threshold gets wrong
    assert best.unit == "xpu" and best.seconds == xpu.seconds
    assert best.dispatch.startswith("best: xpu ") and " <= pim " in best.dispatch
    assert f"pim {pim.seconds * 1e6:.4g} us" in best.dispatch


def test_threshold_is_a_named_policy_with_its_reason() -> None:
    res = Simulator(DUPLEX, dispatch="threshold").run_op(ISSUE_OP)
    assert res.unit == "pim"
    assert res.dispatch == "threshold: Op/B 3.87 < 32 -> pim"
    big = Simulator(DUPLEX, dispatch="threshold").run_op(Gemm(2048, 2048, 2048, w="float16",
                                                             a="float16"))
    assert big.unit == "xpu" and big.dispatch.startswith("threshold: Op/B ")
    assert ">= 32 -> xpu" in big.dispatch


def _random_op(rng: np.random.Generator) -> Gemm | Attention:
    if rng.random() < 0.3:
        heads = int(rng.choice([8, 16, 32]))
        return Attention(batch=int(rng.integers(1, 65)), q_len=1,
                         kv_len=int(rng.integers(16, 4097)), heads=heads,
                         kv_heads=heads // int(rng.choice([1, 4, 8])), head_dim=128)
    w = str(rng.choice(["float16", "bfloat16", "int4", "float8_e4m3fn"]))
    a = "float16" if w == "int4" else w
    batch = int(rng.choice([1, 1, 4, 64]))
    return Gemm(m=int(rng.integers(1, 257)), k=int(rng.integers(64, 4097)),
                n=int(rng.integers(64, 4097)), batch=batch, w=w, a=a, shared_b=batch == 1)


def test_default_never_slower_than_both_forced_choices() -> None:
    """Property over 40 seeded random GEMMs / decode attentions on Duplex."""
    rng = np.random.default_rng(18)
    best, xpu, pim = (Simulator(DUPLEX, dispatch=d) for d in ("best", "xpu", "pim"))
    for _ in range(40):
        op = _random_op(rng)
        rb, rx, rp = best.run_op(op), xpu.run_op(op), pim.run_op(op)
        assert rb.seconds <= min(rx.seconds, rp.seconds), (op, rb.dispatch)
        assert rb.seconds >= rb.roofline_seconds
        assert rb.dispatch.startswith("best: " + rb.unit)


def test_without_pim_everything_runs_on_the_xpu() -> None:
    ws32 = load_arch(EXAMPLES / "ws32.yaml")
    res = Simulator(ws32).run_op(Gemm(64, 256, 256))
    assert res.unit == "xpu" and res.dispatch == "xpu: the device has no PIM"
    assert Simulator(ws32, dispatch="pim").run_op(Gemm(64, 256, 256)).unit == "xpu"


def test_unknown_policy_is_a_config_error() -> None:
    assert DISPATCH_POLICIES[0] == "best"
    with pytest.raises(ConfigError, match="unknown dispatch policy 'fastest'"):
        Simulator(DUPLEX, dispatch="fastest")  # type: ignore[arg-type]


def test_cli_dispatch_prints_and_stores_the_reason(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ["sim", "op", "--hw", str(EXAMPLES / "duplex.yaml"), "--gemm", "4,2304,128",
            "--batch", "512", "--formats", "w=float16,a=float16"]
    out = tmp_path / "r.json"
    assert main([*args, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "(xpu)" in text and "best: xpu " in text and " <= pim " in text
    assert json.loads(out.read_text())["dispatch"].startswith("best: xpu")
    assert main([*args, "--dispatch", "threshold"]) == 0
    assert "threshold: Op/B 3.87 < 32 -> pim" in capsys.readouterr().out
    assert main([*args, "--unit", "pim"]) == 0
    assert "forced: pim" in capsys.readouterr().out
    assert main([*args, "--unit", "pim", "--dispatch", "xpu"]) == 2
    assert "contradicts" in capsys.readouterr().err
