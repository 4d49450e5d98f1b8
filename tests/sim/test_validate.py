"""`mixforge sim validate`: the shipped measurements, the error arithmetic and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.sim.validate import DEFAULT_DATA, load_measurements, validate
from mixforge.sim.validate_report import render, render_markdown

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


def test_shipped_measurements_are_sourced_and_complete() -> None:
    mset = load_measurements(DEFAULT_DATA)
    gated = [m for m in mset.measurements if m.gate]
    assert len(gated) >= 15
    for m in mset.measurements:
        assert (DEFAULT_DATA.parent / m.device).is_file(), m.id
        assert len(m.source) > 20 and len(m.what) > 20, m.id
        assert 0 < m.tolerance <= 0.25
    devices = {Path(m.device).stem for m in gated}
    assert {"a100_like", "h100_like", "a10_like"} <= devices
    metrics = {m.metric for m in gated}
    assert {"tflops", "bandwidth_gbs", "tokens_per_s", "speedup", "ms"} <= metrics
    models = {m.op.model for m in gated if m.op.model}
    assert models == {"llama2_7b", "llama3_8b"}
    assert {m.op.batch for m in gated if m.op.kind in ("decode", "serve")} >= {1, 60}


def _write(tmp_path: Path, entries: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(f"schema_version: 1\nmeasurements:\n{entries}")
    return p


ENTRY = """\
  - id: {id}
    device: {hw}
    op: {{kind: gemm, m: 512, k: 1024, n: 1024, w: int8, a: int8}}
    metric: {metric}
    measured: {measured}
    unit: u
    tolerance: 0.10
    source: "a test value, not a measurement: checks the arithmetic"
    what: "a 512x1024x1024 INT8 GEMM on the ws32 example device"
"""


def test_error_and_exit_code_follow_the_tolerance(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    hw = HW / "ws32.yaml"
    probe = validate(_write(tmp_path, ENTRY.format(id="p", hw=hw, metric="ms", measured=1.0)))
    ms = probe.rows[0].seconds * 1e3
    good = _write(tmp_path, ENTRY.format(id="g", hw=hw, metric="ms", measured=ms * 1.05))
    rep = validate(good)
    assert rep.rows[0].error == pytest.approx(1 / 1.05 - 1)
    assert rep.ok and rep.mae == pytest.approx(abs(1 / 1.05 - 1))
    assert main(["sim", "validate", "--data", str(good), "--json", str(tmp_path / "r.json"),
                 "--markdown", str(tmp_path / "r.md")]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "-4.8%" in out
    assert json.loads((tmp_path / "r.json").read_text())["rows"][0]["within"] is True
    assert (tmp_path / "r.md").read_text() == render_markdown(rep) + "\n"
    assert "| g | ws32 |" in render_markdown(rep)
    bad = _write(tmp_path, ENTRY.format(id="b", hw=hw, metric="ms", measured=ms * 1.2))
    assert main(["sim", "validate", "--data", str(bad)]) == 1
    assert "FAIL: 1 outside tolerance: b" in capsys.readouterr().out
    flops = 2 * 512 * 1024 * 1024 / (ms / 1e3) / 1e12
    tf = validate(_write(tmp_path, ENTRY.format(id="t", hw=hw, metric="tflops",
                                                measured=flops)))
    assert tf.rows[0].error == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("change, match", [
    (("tolerance: 0.10", "tolerance: 0.30"), "must be in"),
    (("metric: ms", "metric: speedup"), "needs a baseline"),
    (("kind: gemm, m: 512", "kind: decode, model: gpt5, m: 512"), "unknown model 'gpt5'"),
    (("measured: 1.0", "measured: -1"), "must be positive"),
    (("tolerance: 0.10", "tolerance: 0.10\n    gate: false"), "must say why"),
])
def test_bad_entries_are_config_errors(tmp_path: Path, change: tuple[str, str],
                                       match: str) -> None:
    text = ENTRY.format(id="x", hw=HW / "ws32.yaml", metric="ms", measured=1.0)
    with pytest.raises(ConfigError, match=match):
        load_measurements(_write(tmp_path, text.replace(*change)))


def test_duplicate_ids_and_missing_device(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    one = ENTRY.format(id="x", hw=HW / "ws32.yaml", metric="ms", measured=1.0)
    with pytest.raises(ConfigError, match="duplicate id 'x'"):
        load_measurements(_write(tmp_path, one + one))
    missing = _write(tmp_path, ENTRY.format(id="y", hw="nowhere.yaml", metric="ms",
                                            measured=1.0))
    assert main(["sim", "validate", "--data", str(missing)]) == 2
    assert "no such device file" in capsys.readouterr().err


#: Gated entries the simulator misses today, each with the reason (see BENCHMARKS.md,
#: "Validation"). The test fails when one of them starts to pass, so the list only shrinks.
KNOWN_MISSES: dict[str, str] = {
    "h100_fp8_gemm_4096x16384x7168": "FP8 at ~93% of the 1.83 GHz peak: the node-scaled power "
                                     "(~455 W) stays under 700 W, so the power-limited clock "
                                     "never engages (operand-delivery energy not modelled)",
    "h100_fp8_gemm_4096x7168x4096": "as h100_fp8_gemm_4096x16384x7168",
    "h100_fp8_gemm_64x7168x2112": "a 9 us kernel: +18% with the per-kernel launch gap, fill and "
                                  "drain (engine/overhead.py); the rest of the prologue is not "
                                  "modelled",
    "a100_llama2_7b_bf16_decode_b1": "+19%: 1.8 us per kernel (launch gap + fill + drain) of the "
                                     "~2 ms gpt-fast loses to its 1.40 TB/s achieved",
    "a100_llama3_8b_bf16_decode_b1": "as a100_llama2_7b_bf16_decode_b1",
}


def test_simulator_matches_published_measurements() -> None:
    """The CI drift check: every gated published measurement within its stored tolerance,
    except the listed known misses (which must still miss: fixing one updates the list)."""
    report = validate()
    text = render(report)
    assert set(KNOWN_MISSES) <= {r.measurement.id for r in report.gated}
    for r in report.gated:
        if r.measurement.id in KNOWN_MISSES:
            assert not r.within, f"{r.measurement.id} now passes: drop it from KNOWN_MISSES"
        else:
            assert r.within, f"{r.measurement.id} drifted out of tolerance\n{text}"
    assert report.ok == (not KNOWN_MISSES)
