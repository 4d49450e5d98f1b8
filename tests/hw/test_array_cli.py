"""``mixforge gen|verify array|pim`` from the CLI: files written, cycles exported, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main
from mixforge.hw.specs import ArraySpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("target,config", [("array", "array/ws_4x4_w4a8.yaml"),
                                           ("pim", "pim/logic_pim_unit.yaml")])
def test_gen_writes_verilog_and_sidecar(tmp_path: Path, target: str, config: str) -> None:
    assert main(["gen", target, "--config", str(EXAMPLES / config), "--out", str(tmp_path)]) == 0
    (v,) = tmp_path.glob("*.v")
    meta = json.loads(v.with_suffix(".json").read_text())
    assert f"module {meta['toplevel']}" in v.read_text() and len(meta["sha256"]) == 64


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text((EXAMPLES / "array" / "ws_4x4_w4a8.yaml").read_text() + "\nbogus_key: 1\n")
    assert main(["gen", "array", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mixforge: error: {bad}: ") and "bogus_key" in err
    assert err.count("\n") == 1


@pytest.mark.rtl
def test_verify_array_gemm_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cycles.json"
    cfg = EXAMPLES / "array" / "ws_4x4_w4a8.yaml"
    assert main(["verify", "array", "--config", str(cfg), "--gemm", "10,13,9",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert (rec["m"], rec["k"], rec["n"], rec["mismatches"]) == (10, 13, 9, 0)
    assert rec["outputs"] == 10 * 9 * -(-13 // rec["group_size"])  # one sum per group
    spec = ArraySpec(rows=4, cols=4, dataflow="ws")
    assert rec["gemm_cycles"] == spec.gemm_cycles(10, 13, 9, group_size=rec["group_size"])
    assert "PASS" in capsys.readouterr().out


@pytest.mark.rtl
def test_verify_dequant_array_gemm_json(tmp_path: Path) -> None:
    """The MixPE edge-dequant example: float32 results bit-exact, cycles include the edge."""
    out = tmp_path / "cycles.json"
    cfg = EXAMPLES / "array" / "os_4x4_w4a8_dequant.yaml"
    assert main(["verify", "array", "--config", str(cfg), "--gemm", "9,20,5",
                 "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert (rec["mismatches"], rec["outputs"], rec["group_size"]) == (0, 9 * 5, 8)
    spec = ArraySpec(rows=4, cols=4, dataflow="os", dequant_latency=5)
    # 18 folds (groups 8, 8, 4 x 6 tiles): 7 + (8 + 4 + 5 * 20) + 2R + C - 2 + D (was 304)
    assert rec["gemm_cycles"] == spec.gemm_cycles(9, 20, 5, group_size=8) == 134
