"""Run the array testbench from Python: verification runs and measured GEMM cycles.

:func:`measure_gemm_cycles` is the ground truth sim/ is checked against: it generates the array,
runs one GEMM in Verilator through cocotb, checks it bit-exact and returns the measured cycles
per fold and per GEMM (and writes them as JSON on request).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import VerificationError
from mixforge.hw.array.config import ArrayConfig

__all__ = ["ArrayRun", "GemmMeasurement", "generate_array", "run_array_tb",
           "measure_gemm_cycles"]

_SOURCES = ("array/cells.py", "array/pe_array.py", "array/config.py", "array/ws_edge.py",
            "array/ws_round_edge.py",
            "pe/arith.py", "pe/dequant.py", "pe/multiformat.py", "pe/baselines.py",
            "pe/separate_macs.py")


@dataclass(frozen=True)
class GemmMeasurement:
    """Measured timing of one GEMM (cycles from its first input to its last output)."""

    m: int
    k: int
    n: int
    group_size: int | None
    gemm_cycles: int
    spec_cycles: int
    ideal_cycles: int
    folds: tuple[dict[str, int], ...]
    mismatches: int
    outputs: int
    #: multiformat: the GEMM's run-time mode and its lanes L (K streams as ceil(K / L) words)
    mode: str | None = None
    lanes: int = 1

    @property
    def matches_spec(self) -> bool:
        return self.gemm_cycles == self.spec_cycles

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["folds"] = list(self.folds)
        return d


@dataclass(frozen=True)
class ArrayRun:
    """Outcome of one testbench run over several GEMMs."""

    config: ArrayConfig
    passed: bool
    failures: tuple[str, ...]
    gemms: tuple[GemmMeasurement, ...]
    build_s: float
    test_s: float
    cached_build: bool
    waveforms: tuple[Path, ...] = ()  # with waves=True: the dumped files (kept run folder)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.params(), "passed": self.passed,
                "failures": list(self.failures), "gemms": [g.to_dict() for g in self.gemms],
                "build_s": round(self.build_s, 2), "test_s": round(self.test_s, 2)}


def generate_array(config: ArrayConfig, out_dir: str | Path | None = None) -> Path:
    """Write the array's Verilog (+ sidecar); without ``out_dir`` into a content-keyed cache."""
    from mixforge.hw.array.pe_array import PEArray
    from mixforge.hw.export import write_verilog

    if out_dir is None:
        from mixforge.toolchain import cache_dir

        h = hashlib.sha256(json.dumps(config.params(), sort_keys=True).encode())
        for name in _SOURCES:
            h.update((Path(__file__).parents[1] / name).read_bytes())
        out_dir = cache_dir() / "gen" / f"{config.name}-{h.hexdigest()[:16]}"
        vpath = Path(out_dir) / f"{config.name}.v"
        if vpath.exists():
            return vpath
    dut = PEArray(config=config)
    spec = config.spec
    exp = write_verilog(dut, config.name, out_dir, generator="PEArray", params=config.params(),
                        latency=dut.latency, throughput=dut.throughput,
                        extra={"timing": {"dataflow": spec.dataflow, "rows": spec.rows,
                                          "cols": spec.cols, "double_buffer": spec.double_buffer,
                                          "dequant_latency": spec.dequant_latency,
                                          "contract": "mixforge.hw.specs.ArraySpec"}})
    return exp.verilog


def run_array_tb(config: ArrayConfig, shapes: Sequence[Sequence[int]], *,
                 group_size: int | None = None, seed: int = 0, stall: float = 0.0,
                 nar: bool = False, exhaustive: bool = False, special: float = 0.0,
                 sim: str = "verilator", waves: bool = False,
                 modes: Sequence[str] | None = None, worst: bool = False) -> ArrayRun:
    """Verify ``config`` on GEMMs ``shapes`` ([M, K, N] each); returns results and timing.

    ``stall`` > 0 makes the driver withhold beats at random (then cycles exceed the spec, by
    design). ``group_size``: the group that cuts folds; a ``dequant`` array uses its own
    ``group`` (a different value is a ``ConfigError``), the dequantize-first baseline none.
    ``special``: fraction of Inf/NaN scales given to float-output arrays. Raises
    ``ToolchainError`` when the simulator is missing or the build fails; a mismatch is reported
    in ``ArrayRun.failures``, not raised. ``modes`` (multiformat arrays): the run-time mode of
    each GEMM, cycled over ``shapes`` (default: all of ``models.pe.MODES`` in turn), switched
    between GEMMs within the one simulation. ``worst``: every GEMM gets largest-magnitude
    operands (``mixforge.hw.verify.worst_case.array_worst_operands``) instead of random ones.
    """
    from mixforge.toolchain import run_cocotb, testbench_dir

    group_size = config.fold_group(group_size)
    vpath = generate_array(config)
    with tempfile.TemporaryDirectory(prefix="mixforge-array-") as tmp:
        out = Path(tmp) / "result.json"
        params = {"config": config.params(), "shapes": [list(s) for s in shapes],
                  "group_size": group_size, "seed": seed, "stall": stall, "nar": nar,
                  "exhaustive": exhaustive, "special": special, "out": str(out),
                  "modes": list(modes) if modes else None, "worst": worst}
        res = run_cocotb(verilog_sources=[vpath], toplevel=config.name, test_module="tb_array",
                         test_dir=testbench_dir(), sim=sim, waves=waves,
                         quick_build=True,
                         extra_env={"MIXFORGE_TB_PARAMS": json.dumps(params)})
        raw = json.loads(out.read_text()) if out.exists() else {"gemms": []}
    spec = config.spec
    gemms = []
    for g in raw["gemms"]:
        m, k, n = g["M"], g["K"], g["N"]
        lanes = int(g.get("lanes", 1))
        gemms.append(GemmMeasurement(
            m=m, k=k, n=n, group_size=g["group_size"], gemm_cycles=g["gemm_cycles"],
            spec_cycles=spec.gemm_cycles(m, -(-k // lanes), n, g["group_size"]),
            ideal_cycles=spec.ideal_cycles(m, -(-k // lanes), n), folds=tuple(g["folds"]),
            mismatches=g["mismatches"], outputs=g["outputs"], mode=g.get("mode"),
            lanes=lanes))
    return ArrayRun(config=config, passed=res.passed, failures=res.failures,
                    gemms=tuple(gemms), build_s=res.build_s, test_s=res.test_s,
                    cached_build=res.cached_build, waveforms=tuple(res.waveforms))


def measure_gemm_cycles(config: ArrayConfig, m: int, k: int, n: int, *,
                        group_size: int | None = None, seed: int = 0, sim: str = "verilator",
                        json_out: str | Path | None = None, mode: str | None = None
                        ) -> GemmMeasurement:
    """Measured cycles (first input -> last output) of one GEMM M x K x N, per fold and total.

    The GEMM is also checked bit-exact; a mismatch raises ``VerificationError``. With
    ``json_out`` the measurement is written there (the format sim/ tests read). ``mode``:
    the multiformat mode of the GEMM (default fp4x4); K counts elements, the array streams
    ``ceil(K / L)`` words (``ArraySpec.gemm_cycles(M, ceil(K / L), N)``).
    """
    run = run_array_tb(config, [(m, k, n)], group_size=group_size, seed=seed, sim=sim,
                       modes=[mode] if mode else None)
    if not run.passed or not run.gemms:
        raise VerificationError(f"{config.name} GEMM {m}x{k}x{n} failed: "
                                f"{'; '.join(run.failures) or 'no result'}")
    meas = run.gemms[0]
    if json_out is not None:
        Path(json_out).write_text(json.dumps({"config": config.params(), **meas.to_dict()},
                                             indent=1) + "\n")
    return meas
