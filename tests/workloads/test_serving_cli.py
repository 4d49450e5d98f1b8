"""``mixforge sim serve``: the README's command shape on a small model, files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main

ROOT = Path(__file__).resolve().parents[2]
HW = str(ROOT / "examples" / "hw" / "h100_like.yaml")


def test_serve_writes_summary_csv_and_trace(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    rc = main(["sim", "serve", "--hw", HW, "--model", "llama-2-7b", "--quant", "fp16",
               "--trace", str(ROOT / "examples" / "traces" / "synthetic_conv.jsonl"),
               "--requests", "6", "--max-batch", "4", "--no-progress", "--json", str(out),
               "--csv", str(tmp_path / "r.csv"), "--trace-out", str(tmp_path / "t.json")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "TTFT" in text and "output tok/s" in text
    assert "hit rate" in text and "op shapes simulated" in text
    s = json.loads(out.read_text())
    assert s["requests"]["served"] == 6 and s["cost"]["model"] == "llama-2-7b"
    assert s["cost"]["memory"]["kv_capacity_tokens"] > 0
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 7
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


@pytest.mark.parametrize(("args", "msg"), [
    (["--model", "llama-2-7b"], "--rate"),
    (["--model", "no-such-model", "--rate", "1"], "unknown model"),
    (["--model", "llama-2-7b", "--quant", "w3", "--rate", "1"], "unknown recipe"),
    (["--model", "llama-2-7b", "--rate", "1", "--prompt-len", "huge"], "--prompt-len"),
    (["--model", "llama-2-7b", "--rate", "1", "--routing", "zipf:x"], "routing"),
])
def test_bad_input_is_one_line_exit_2(args: list[str], msg: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sim", "serve", "--hw", HW, "--no-progress", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and msg in err and "\n" not in err


def test_bad_trace_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.csv"
    bad.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5\n0.1,-3,5\n")
    rc = main(["sim", "serve", "--hw", HW, "--model", "llama-2-7b", "--trace", str(bad),
               "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "line 3, column num_prefill_tokens" in err


def test_same_seed_same_files(tmp_path: Path) -> None:
    outs = []
    for i in range(2):
        js, cs = tmp_path / f"s{i}.json", tmp_path / f"r{i}.csv"
        assert main(["sim", "serve", "--hw", HW, "--model", "llama-2-7b", "--rate", "30",
                     "--requests", "8", "--prompt-len", "uniform:32:200", "--output-len", "8",
                     "--seed", "5", "--no-progress", "--json", str(js), "--csv", str(cs)]) == 0
        outs.append((js.read_bytes(), cs.read_bytes()))
    assert outs[0] == outs[1]
