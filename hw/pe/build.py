"""Spec -> Amaranth component, and the one helper that exports + simulates a PE."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.hw.export import Exported, write_verilog

__all__ = ["build_pe", "export_pe", "run_pe_testbench", "run_pe_fast", "stream_widths", "TbRun",
           "TB_MODULES", "FAST_KINDS", "HARNESS_VERILATOR_ARGS", "tb_dir"]

#: cocotb testbench module per PE kind (in ``mixforge.hw.verify``).
TB_MODULES = {"shift_add": "tb_pe_shift_add", "mul_dequant_first": "tb_pe_baselines",
              "fp16_mac": "tb_pe_baselines", "multiformat": "tb_pe_multiformat",
              "shared_quire": "tb_pe_multiformat", "separate_macs": "tb_pe_multiformat"}
#: kinds the free-running harness has vector plans for (``hw/verify/tb_pe_vectors.py``)
FAST_KINDS = ("shift_add", "mul_dequant_first", "fp16_mac", "multiformat", "shared_quire",
              "separate_macs")
_GENERATORS = {"shift_add": "ShiftAddPE", "mul_dequant_first": "DequantFirstPE",
               "fp16_mac": "FP16MacPE", "multiformat": "MultiFormatMAC",
               "shared_quire": "SharedQuireMAC", "separate_macs": "SeparateMacsMAC"}


def build_pe(spec: Any) -> Any:
    """The Amaranth component for a spec from :mod:`mixforge.hw.pe.specs`."""
    kind = spec.kind
    if kind == "shift_add":
        from mixforge.hw.pe.shift_add import ShiftAddPE

        return ShiftAddPE(spec=spec)
    if kind in ("multiformat", "shared_quire"):
        from mixforge.hw.pe import multiformat

        return getattr(multiformat, _GENERATORS[kind])(spec=spec)
    if kind == "separate_macs":
        from mixforge.hw.pe.separate_macs import SeparateMacsMAC

        return SeparateMacsMAC(spec=spec)
    from mixforge.hw.pe import baselines

    return getattr(baselines, _GENERATORS[kind])(spec=spec)


def export_pe(spec: Any, name: str, out_dir: str | Path) -> Exported:
    """Write ``out_dir/<name>.v`` + ``<name>.json`` (parameters, latency, throughput, hash)."""
    dut = build_pe(spec)
    return write_verilog(dut, name, out_dir, generator=_GENERATORS[spec.kind],
                         params={"kind": spec.kind, **dataclasses.asdict(spec)},
                         latency=dut.latency, throughput=dut.throughput)


def tb_dir() -> Path:
    """Folder of the cocotb PE testbenches (the ``mixforge.hw.verify`` package)."""
    from mixforge.toolchain import testbench_dir

    return testbench_dir()


@dataclass(frozen=True)
class TbRun:
    """Result of one PE testbench run: per-test records from the testbench's JSON lines."""

    tests: int
    failed: int
    failures: tuple[str, ...]
    records: tuple[dict[str, Any], ...]
    build_s: float
    test_s: float
    cached_build: bool
    waveforms: tuple[Path, ...] = ()  # with waves=True: the dumped files (kept run folder)

    @property
    def vectors(self) -> int:
        return sum(int(r["vectors"]) for r in self.records)

    @property
    def mismatches(self) -> int:
        return sum(int(r["mismatches"]) for r in self.records)


def run_pe_testbench(spec: Any, *, sim: str = "verilator", name: str = "pe",
                     tb_params: dict[str, Any] | None = None, waves: bool = False,
                     testcase: str | None = None, seed: int | None = None,
                     log_file: str | Path | None = None) -> TbRun:
    """Export ``spec``, build it (cached) and run its cocotb testbench.

    ``tb_params`` reach the testbench as ``MIXFORGE_TB_PARAMS`` (vectors, sequences, seed);
    each test appends a JSON record (vectors, mismatches, first mismatches in hex, seconds)
    that comes back in :attr:`TbRun.records`. ``log_file`` captures the simulator output.
    """
    from mixforge.errors import ToolchainError
    from mixforge.toolchain import require_simulator, run_cocotb

    require_simulator(sim)
    tb = tb_dir() / f"{TB_MODULES[spec.kind]}.py"
    if not tb.exists():
        raise ToolchainError(f"testbench {tb} not found (a broken install: reinstall mixforge)")
    with tempfile.TemporaryDirectory(prefix="mixforge-pe-") as tmp:
        exp = export_pe(spec, name, tmp)
        result = Path(tmp) / "tb_result.jsonl"
        params = {"kind": spec.kind, **dataclasses.asdict(spec), "latency": spec.latency,
                  "seed": 6, **(tb_params or {})}
        res = run_cocotb(verilog_sources=[exp.verilog], toplevel=exp.toplevel,
                         test_module=TB_MODULES[spec.kind], test_dir=tb_dir(), sim=sim,
                         extra_env={"MIXFORGE_TB_PARAMS": json.dumps(params),
                                    "MIXFORGE_TB_RESULT": str(result)},
                         waves=waves, testcase=testcase, seed=seed, log_file=log_file)
        records = _records(result)
    return TbRun(tests=res.tests, failed=res.failed, failures=res.failures, records=records,
                 build_s=res.build_s, test_s=res.test_s, cached_build=res.cached_build,
                 waveforms=tuple(res.waveforms))


def _records(path: Path) -> tuple[dict[str, Any], ...]:
    if not path.exists():
        return ()
    return tuple(json.loads(line) for line in path.read_text().splitlines())


def stream_widths(spec: Any) -> tuple[int, int]:
    """Bit widths of the PE's ``i`` and ``o`` stream payloads."""
    from amaranth.hdl import Value

    dut = build_pe(spec)
    dut._MustUse__used = True  # only inspected, never elaborated: no UnusedElaboratable warning
    return len(Value.cast(dut.i.payload)), len(Value.cast(dut.o.payload))


#: Verilator arguments of the harness build: ``--timing`` for the wrapper's own clock, and the
#: model's C++ compiled with ``-O2`` rather than verilated.mk's ``-Os`` (``-CFLAGS`` come after
#: ``OPT_FAST`` on the compiler line): the free-running harness is simulation-bound, and ``-O2``
#: simulates it 1.5-3x faster for a slightly longer one-off (cached) compile.
HARNESS_VERILATOR_ARGS = ("--timing", "-CFLAGS", "-O2")


def run_pe_fast(spec: Any, *, sim: str = "verilator", name: str = "pe",
                tb_params: dict[str, Any] | None = None, waves: bool = False,
                seed: int | None = None, depth: int = 1 << 16,
                log_file: str | Path | None = None) -> TbRun:
    """Verify ``spec`` in the free-running harness (:mod:`mixforge.hw.pe.harness`).

    Runs ``hw/verify/tb_pe_fast.py``: every verification path of the PE kind (exhaustive / edge /
    random products, accumulation sequences with back-pressure, latency and throughput), each
    reported as one record in :attr:`TbRun.records`. ``tb_params`` as for
    :func:`run_pe_testbench`; ``depth`` is the harness batch size (vectors per memory load).
    """
    from mixforge.errors import ToolchainError
    from mixforge.hw.pe.harness import HarnessSpec, write_harness
    from mixforge.toolchain import require_simulator, run_cocotb

    require_simulator(sim)
    tb = tb_dir() / "tb_pe_fast.py"
    if not tb.exists():
        raise ToolchainError(f"testbench {tb} not found (a broken install: reinstall mixforge)")
    iw, ow = stream_widths(spec)
    hs = HarnessSpec(pe_module=name, in_width=iw, out_width=ow, depth=depth)
    with tempfile.TemporaryDirectory(prefix="mixforge-pe-") as tmp:
        exp = export_pe(spec, name, tmp)
        wrapper = write_harness(hs, tmp)
        result = Path(tmp) / "tb_result.jsonl"
        params = {"kind": spec.kind, **dataclasses.asdict(spec), "latency": spec.latency,
                  "seed": 6, "depth": depth, **(tb_params or {})}
        res = run_cocotb(verilog_sources=[exp.verilog, wrapper], toplevel=hs.module,
                         test_module="tb_pe_fast", test_dir=tb_dir(), sim=sim,
                         extra_env={"MIXFORGE_TB_PARAMS": json.dumps(params),
                                    "MIXFORGE_TB_RESULT": str(result)},
                         build_args=list(HARNESS_VERILATOR_ARGS) if sim == "verilator" else [],
                         vpi_all=False, waves=waves, seed=seed, log_file=log_file)
        records = _records(result)
    return TbRun(tests=res.tests, failed=res.failed, failures=res.failures, records=records,
                 build_s=res.build_s, test_s=res.test_s, cached_build=res.cached_build,
                 waveforms=tuple(res.waveforms))
