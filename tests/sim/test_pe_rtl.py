"""RTL energy/area hook: per-PE figures from ``mixforge synth pe --json`` drive the cost model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sim_devices import example_data

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.sim.arch import load_arch
from mixforge.sim.cost import load_pe_rtl, pe_area, with_pe_rtl
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Gemm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "hw"
RTL = ROOT / "examples" / "pe" / "rtl"
SHIFT_ADD, MUL = RTL / "shift_add_w4a8.synth.json", RTL / "mul_w4a8.synth.json"


def test_committed_synth_files_load() -> None:
    sa, mul = load_pe_rtl(SHIFT_ADD), load_pe_rtl(MUL)
    raw = json.loads(SHIFT_ADD.read_text())
    assert sa.kind == "shift_add" and mul.kind == "mul_dequant_first"
    assert sa.core_transistors == raw["parts"]["core"]["cmos_transistors_incl_ff"]
    assert sa.total_transistors == raw["cmos_transistors_incl_ff"]
    assert sa.core_transistors < mul.core_transistors  # no multiplier in the shift-and-add core


def test_shift_add_costs_less_mac_energy_by_the_measured_ratio() -> None:
    base = replace(load_arch(EXAMPLES / "mixpe_w4a8.yaml"), pe_rtl=None)
    op = Gemm(256, 2048, 1024, w="int4", a="int8", group_size=128)
    runs = {}
    for path in (SHIFT_ADD, MUL):
        arch = with_pe_rtl(base, path)
        runs[path] = Simulator(arch).run_op(op)
    sa, mul = runs[SHIFT_ADD], runs[MUL]
    ratio = load_pe_rtl(SHIFT_ADD).core_transistors / load_pe_rtl(MUL).core_transistors
    assert sa.energy.mac_j < mul.energy.mac_j
    assert sa.energy.mac_j / mul.energy.mac_j == pytest.approx(ratio, rel=1e-12)
    # the dequantize-first core is the reference: it costs [H14]'s INT8 MAC (0.3 pJ)
    assert mul.energy.mac_j == pytest.approx(op.macs * 0.3e-12, rel=1e-12)
    # same schedule, so everything else is equal; leakage follows the measured area
    assert sa.seconds == mul.seconds and sa.energy.dram_j == mul.energy.dram_j
    a_sa, a_mul = pe_area(with_pe_rtl(base, SHIFT_ADD)), pe_area(with_pe_rtl(base, MUL))
    assert a_sa is not None and a_mul is not None
    assert sa.energy.static_j / mul.energy.static_j == pytest.approx(
        a_sa["array_transistors"] / a_mul["array_transistors"], rel=1e-9)
    no_rtl = Simulator(base).run_op(op)
    assert no_rtl.energy.static_j == 0.0 and sa.energy.static_j > 0


def test_rtl_energy_only_for_the_pair_the_pe_computes() -> None:
    assert load_pe_rtl(SHIFT_ADD).operands == ("int4", "int8")
    assert load_pe_rtl(MUL).operands == ("int4", "int8")
    base = replace(load_arch(EXAMPLES / "h100_like.yaml"), pe_rtl=None)
    op = Gemm(64, 1024, 512, w="float16", a="float16")  # not what the W4A8 PE computes
    plain = Simulator(base).run_op(op)
    measured = Simulator(with_pe_rtl(base, SHIFT_ADD)).run_op(op)
    assert measured.energy.mac_j == plain.energy.mac_j  # charged from the table
    assert measured.energy.static_j > plain.energy.static_j  # the array still leaks


def test_yaml_points_to_rtl_relative_to_itself(tmp_path: Path) -> None:
    arch = load_arch(EXAMPLES / "mixpe_w4a8.yaml")  # ships rtl: ../pe/rtl/shift_add_w4a8...
    assert arch.pe_rtl is not None and arch.pe_rtl.name == "shift_add_w4a8"
    area = pe_area(arch)
    assert area is not None
    rows, cols = arch.xpu.array.rows, arch.xpu.array.cols
    sa = load_pe_rtl(SHIFT_ADD)
    assert area["array_transistors"] == (sa.core_transistors * rows * cols
                                         + (sa.total_transistors - sa.core_transistors) * cols)
    # a copy of the YAML elsewhere with a relative path next to it
    data = example_data("mixpe_w4a8")
    (tmp_path / "pe.json").write_text(MUL.read_text())
    data["xpu"]["pe"]["rtl"] = "pe.json"
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_arch(path).pe_rtl == load_pe_rtl(tmp_path / "pe.json")


def test_missing_and_bad_rtl_files(tmp_path: Path) -> None:
    data = example_data("mixpe_w4a8")
    data["xpu"]["pe"]["rtl"] = "nothere.json"
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=rf"^{path}: xpu\.pe\.rtl: no such file"):
        load_arch(path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=rf"^{bad}: invalid JSON"):
        load_pe_rtl(bad)
    fig = json.loads(SHIFT_ADD.read_text())
    del fig["parts"]["core"]["cmos_transistors_incl_ff"]
    bad.write_text(json.dumps(fig))
    with pytest.raises(ConfigError, match=rf"^{bad}: parts\.core\.cmos_transistors_incl_ff: "
                                          "missing"):
        load_pe_rtl(bad)
    fig = json.loads(SHIFT_ADD.read_text())
    fig["target"] = "ecp5"
    bad.write_text(json.dumps(fig))
    with pytest.raises(ConfigError, match=rf"^{bad}: target: must be 'generic'"):
        load_pe_rtl(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_pe_rtl(tmp_path / "gone.json")


def test_cli_pe_rtl_reports_area(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code = main(["sim", "op", "--hw", str(EXAMPLES / "ws32.yaml"), "--gemm", "64,256,256",
                 "--formats", "w4,a8", "--pe-rtl", str(MUL), "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["pe_rtl"]["pe"] == "mul_w4a8" and data["pe_rtl"]["array_transistors"] > 0
    assert data["energy_breakdown_j"]["static_j"] > 0
    assert "PE (RTL)" in capsys.readouterr().out
    assert main(["sim", "op", "--hw", str(EXAMPLES / "ws32.yaml"), "--gemm", "8,8,8",
                 "--pe-rtl", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err
