"""``mixforge sim op``: table on stdout, JSON with the agreed keys, exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def test_sim_op_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code = main(["sim", "op", "--hw", str(EXAMPLES / "ws32.yaml"), "--gemm", "128,256,256",
                 "--formats", "w=int4,a=int8", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    for key in ("cycles", "seconds", "energy_j", "roofline_seconds", "bound", "sim_wall_s"):
        assert key in data
    assert data["seconds"] >= data["roofline_seconds"]
    assert data["bound"] in ("compute", "memory", "pim")
    assert "cycles" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--gemm", "1,2"], ["--gemm", "8,8,8", "--formats", "w=float16"],
    ["--gemm", "8,8,8", "--formats", "x=int8"],
])
def test_sim_op_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "op", "--hw", str(EXAMPLES / "ws32.yaml"), *argv]) == 2
    assert "mixforge: error:" in capsys.readouterr().err


def test_sim_op_bad_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "hw.yaml"
    bad.write_text("schema_version: 1\nname: x\nxpu: {}\nhbm: {preset: hbm3}\n")
    assert main(["sim", "op", "--hw", str(bad), "--gemm", "8,8,8"]) == 2
    assert f"{bad}: xpu.freq_hz: missing required key" in capsys.readouterr().err
