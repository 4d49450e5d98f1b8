"""``mixforge synth array``: the WS dequant edge's accumulator memories stay ``$mem`` cells.

The array's area figures come from :func:`mixforge.hw.array.synth.synth_array` (shared with
``benchmarks/bench_array.py``). By default the per-row edge memories are kept as memories (SRAM
macros) and their bits are reported apart (``memory_bits``, ``memory_shapes``); ``--memories
ff`` maps them to flip-flops. The expected shapes are computed here from the config and the
models/ arithmetic widths, independently of the RTL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main
from mixforge.hw.array.config import load_array_file
from mixforge.hw.array.synth import rtlil_memories
from mixforge.models.pe import shift_add_arith

SMALL = """schema_version: 1
array: {rows: 2, cols: 1, dataflow: ws, pe: shift_add, w_bits: 4, a_bits: 8, dequant: true,
        group: 8, acc_depth: 4, out: float32}
"""


def _expected_shapes(path: Path) -> dict[str, tuple[int, int]]:
    """name -> (depth, width): per row ``sum(a)``, per column ``sum(w*a)`` and the exact
    accumulator (+ its NaN flag), each ``acc_depth`` deep."""
    cfg = load_array_file(path).array
    ar = shift_add_arith(k=cfg.w_bits, act="int8", group=cfg.group)
    d = cfg.acc_depth
    return {"eg_sa": (d, ar.act_sum), **{f"eg_gs{j}": (d, ar.group_sum) for j in range(cfg.cols)},
            **{f"eg_acc{j}": (d, ar.acc + 1) for j in range(cfg.cols)}}


def _synth(tmp_path: Path, *extra: str) -> tuple[dict, dict[str, tuple[int, int]]]:
    cfg = tmp_path / "ws_2x1.yaml"
    cfg.write_text(SMALL)
    out = tmp_path / "area.json"
    assert main(["synth", "array", "--config", str(cfg), "--json", str(out), *extra]) == 0
    return json.loads(out.read_text()), _expected_shapes(cfg)


def test_synth_array_keeps_edge_memories(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    st, shapes = _synth(tmp_path)
    assert st["memory_mapping"] == "keep" and st["memories"] == len(shapes) == 3
    got = {m["name"]: (m["depth"], m["width"]) for m in st["memory_shapes"]}
    assert got == shapes
    assert st["memory_bits"] == sum(d * w for d, w in shapes.values()) == 4 * (11 + 15 + 78)
    # kept as memories: no $mem cell among the logic cells, and far fewer flip-flops than bits
    assert not any(t.startswith("$mem") for t in st["cells_by_type"])
    assert st["cells"] == sum(st["cells_by_type"].values())
    assert 0 < st["flip_flops"] < st["memory_bits"] and not st["has_mul"]
    assert st["cmos_transistors"] > 0 and st["config"]["acc_depth"] == 4
    text = capsys.readouterr().out
    assert f"3 memories, {st['memory_bits']} bits, kept as $mem cells" in text
    assert "eg_acc0" in text and "eg_sa" in text


@pytest.mark.slow
def test_synth_array_memories_as_flip_flops(tmp_path: Path) -> None:
    """``--memories ff``: the same memories, now counted in the cells as flip-flops."""
    st, shapes = _synth(tmp_path, "--memories", "ff")
    assert st["memory_mapping"] == "ff"
    assert {m["name"]: (m["depth"], m["width"]) for m in st["memory_shapes"]} == shapes
    assert not any(t.startswith("$mem") for t in st["cells_by_type"])
    assert st["flip_flops"] > st["memory_bits"] == sum(d * w for d, w in shapes.values())


def test_rtlil_memories_parser() -> None:
    dump = """module \\top
  attribute \\src "x.v:1"
  cell $mem_v2 \\m1
    parameter \\ABITS 3
    parameter \\INIT 12'xxxxxxxxxxxx
    parameter \\MEMID "\\\\m1"
    parameter \\SIZE 8
    parameter \\WIDTH 12
    connect \\RD_ADDR 3'000
  end
  cell $mem_v2 \\m0
    parameter \\SIZE 2
    parameter \\WIDTH 5
  end
end
"""
    assert rtlil_memories(dump) == [{"name": "m0", "width": 5, "depth": 2, "bits": 10},
                                    {"name": "m1", "width": 12, "depth": 8, "bits": 96}]
    assert rtlil_memories("") == []


def test_bad_memories_option_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "ws_2x1.yaml"
    cfg.write_text(SMALL)
    assert main(["synth", "array", "--config", str(cfg), "--memories", "sram"]) == 2
