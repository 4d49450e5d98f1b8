"""Iso-area in one call: size an array to an area from the PEs' synthesized areas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sim_devices import example_data

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.arch.isoarea import area_of, size_to_area

HW = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _fits(arch: object, budget: int) -> None:
    from dataclasses import replace

    from mixforge.sim.cost.rtl import array_transistors

    a = arch.xpu.array  # type: ignore[attr-defined]
    assert area_of(arch) <= budget  # type: ignore[arg-type]
    for r, c in ((a.rows + 1, a.cols), (a.rows, a.cols + 1)):  # and it is the largest
        bigger = replace(arch, xpu=replace(arch.xpu, array=replace(a, rows=r, cols=c)))  # type: ignore[attr-defined]
        assert array_transistors(bigger, bigger.pe_rtl) > budget


def test_dequant_first_array_sized_to_the_shift_add_area() -> None:
    mixpe = load_arch(HW / "mixpe_w4a8.yaml")
    budget = area_of(mixpe)
    base = load_arch(HW / "mixpe_dequant_first.yaml")
    sized = size_to_area(base, budget)
    _fits(sized, budget)
    a = sized.xpu.array
    # the multiplier PE is larger, so fewer of them fit; the aspect ratio (64x64) is kept
    assert a.rows * a.cols < 64 * 64 and abs(a.rows - a.cols) <= 1
    ref = next(r for r in sized.refs if r.role == "xpu.array")
    assert "sized for" in ref.scaled
    assert f"-> {a.rows}x{a.cols}" in ref.label(a.rows, a.cols)


def test_area_budget_field(tmp_path: Path) -> None:
    budget = 10_000_000
    data = example_data("mixpe_dequant_first")
    data["xpu"]["area_budget_transistors"] = budget
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    arch = load_arch(path)
    _fits(arch, budget)
    assert arch.xpu.array == size_to_area(load_arch(HW / "mixpe_dequant_first.yaml"),
                                          budget).xpu.array
    data["xpu"]["area_budget_transistors"] = 1000  # not one PE
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"xpu\.area_budget_transistors: .* do not hold one"):
        load_arch(path)
    ws32 = yaml.safe_load((HW / "ws32.yaml").read_text())  # no synthesis figures
    ws32["xpu"]["area_budget_transistors"] = budget
    path.write_text(yaml.safe_dump(ws32))
    with pytest.raises(ConfigError, match="needs the PE's synthesis figures"):
        load_arch(path)


def test_cli_iso_area_reports_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "iso.json"
    assert main(["sim", "op", "--hw", str(HW / "mixpe_w4a8.yaml"), "--iso-area",
                 str(HW / "mixpe_dequant_first.yaml"), "--gemm", "256,1024,1024",
                 "--group-size", "128", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "iso-area" in text and "mixpe_dequant_first" in text and "timing from" in text
    got = json.loads(out.read_text())
    a, b = got["devices"]
    assert a["hw"] == "mixpe_w4a8" and b["hw"] == "mixpe_dequant_first"
    assert a["area_transistors"] == got["area_transistors"] >= b["area_transistors"]
    assert b["rows"] * b["cols"] < a["rows"] * a["cols"]
    assert b["seconds"] > a["seconds"]  # fewer PEs in the same area: slower on this GEMM
    assert main(["sim", "op", "--hw", str(HW / "ws32.yaml"), "--iso-area",
                 str(HW / "mixpe_w4a8.yaml"), "--gemm", "64,64,64"]) == 2
    assert "synthesis figures" in capsys.readouterr().err
