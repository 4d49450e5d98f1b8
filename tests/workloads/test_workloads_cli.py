"""``mixforge zoo list|show`` and ``mixforge sim model`` end to end (in process)."""

from __future__ import annotations

import json
from pathlib import Path

from mixforge.cli import main

HW = str(Path(__file__).resolve().parents[2] / "examples" / "hw" / "duplex.yaml")


def test_zoo_list_and_show(capsys) -> None:
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "mixtral-8x7b" in out and "46.70B" in out and "12.88B" in out
    assert main(["zoo", "show", "gpt-oss-20b"]) == 0
    out = capsys.readouterr().out
    assert "huggingface.co/openai/gpt-oss-20b" in out and "mxfp4" in out
    assert "20,914,757,184" in out


def test_sim_model_decode_json(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    rc = main(["sim", "model", "--hw", HW, "--model", "mixtral-8x7b", "--quant", "w4a8-g128",
               "--phase", "decode", "--batch", "64", "--kv", "2048", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "tokens/s" in text and "moe.experts" in text and f"wrote {out}" in text
    d = json.loads(out.read_text())
    assert d["tokens"] == 64 and d["memory"]["fits"]
    assert abs(sum(v["time_share"] for v in d["per_class"].values()) - 1) < 1e-9
    assert set(d["energy_per_token_j"]) == {"mac", "sram", "dram", "vector", "pim", "static"}
    assert d["tokens_per_s"] == 64 / d["seconds"]


def test_sim_model_bad_input(capsys) -> None:
    base = ["sim", "model", "--hw", HW]
    assert main([*base, "--model", "llama-9b", "--kv", "8"]) == 2
    assert "llama-2-7b" in capsys.readouterr().err
    assert main([*base, "--model", "llama-2-7b", "--quant", "w1", "--kv", "8"]) == 2
    assert "w4a16-g128" in capsys.readouterr().err
    assert main([*base, "--model", "llama-2-7b", "--kv", "5000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kv" in err and "4096" in err
    assert main([*base, "--model", "mixtral-8x7b", "--kv", "8", "--routing", "zipf:x"]) == 2
