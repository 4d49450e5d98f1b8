"""Generate and verify the logic-PIM unit; measured cycles and sustained bytes/cycle."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.hw.pim.config import PimUnitConfig, PimVerify, mode_code

__all__ = ["PimRun", "generate_pim", "run_pim_tb"]


@dataclass(frozen=True)
class PimRun:
    """Outcome of one testbench run: pass/fail and one measurement dict per job."""

    config: PimUnitConfig
    passed: bool
    failures: tuple[str, ...]
    jobs: tuple[dict[str, Any], ...]
    build_s: float
    test_s: float
    waveforms: tuple[Path, ...] = ()  # with waves=True: the dumped files (kept run folder)

    @property
    def peak_bytes_per_cycle(self) -> int:
        return self.config.width // 8

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.params(), "format_pairs": _pair_codes(self.config),
                "passed": self.passed,
                "failures": list(self.failures), "jobs": list(self.jobs),
                "peak_bytes_per_cycle": self.peak_bytes_per_cycle}


def _pair_codes(config: PimUnitConfig) -> dict[str, int]:
    """``"<weight>x<act>"`` -> ``mode`` port value, for every pair the unit computes."""
    return {f"{w}x{a}": mode_code(w, a) for w, a in config.pairs}


def generate_pim(config: PimUnitConfig, out_dir: str | Path | None = None) -> Path:
    """Write the unit's Verilog (+ sidecar); without ``out_dir`` into a content-keyed cache."""
    from mixforge.hw.export import write_verilog
    from mixforge.hw.pim.unit import LogicPIMUnit

    if out_dir is None:
        from mixforge.toolchain import cache_dir

        h = hashlib.sha256(json.dumps(config.params(), sort_keys=True).encode())
        for src in (Path(__file__).parent / "unit.py", Path(__file__).parent / "config.py",
                    Path(__file__).parents[1] / "pe" / "arith.py"):
            h.update(src.read_bytes())
        out_dir = cache_dir() / "gen" / f"{config.name}-{h.hexdigest()[:16]}"
        if (Path(out_dir) / f"{config.name}.v").exists():
            return Path(out_dir) / f"{config.name}.v"
    dut = LogicPIMUnit(config=config)
    exp = write_verilog(dut, config.name, out_dir, generator="LogicPIMUnit",
                        params=config.params(), latency=dut.latency, throughput=dut.throughput,
                        extra={"width_bits": config.width, "lanes": config.lanes,
                               "mode_bits": config.mode_bits, "acc_bits": config.acc_bits,
                               "format_pairs": _pair_codes(config)})
    return exp.verilog


def run_pim_tb(config: PimUnitConfig, plan: PimVerify, *, sim: str = "verilator",
               waves: bool = False) -> PimRun:
    """Run ``plan.jobs`` through the unit behind the DRAM model ``plan.dram``.

    Jobs the unit cannot run (formats not built, too many tokens, K beyond the buffer) raise
    ``ConfigError`` naming ``verify.jobs[i]`` before anything is built.
    """
    from dataclasses import asdict

    from mixforge.toolchain import run_cocotb, testbench_dir

    jobs = plan.parsed_jobs
    for i, job in enumerate(jobs):
        config.check_job(job, f"verify.jobs[{i}]")
    vpath = generate_pim(config)
    with tempfile.TemporaryDirectory(prefix="mixforge-pim-") as tmp:
        out = Path(tmp) / "result.json"
        params = {"config": config.params(), "jobs": [list(j) for j in jobs],
                  "dram": asdict(plan.dram), "out_ready": plan.out_ready, "seed": plan.seed,
                  "out": str(out)}
        res = run_cocotb(verilog_sources=[vpath], toplevel=config.name, test_module="tb_pim",
                         test_dir=testbench_dir(), sim=sim, waves=waves,
                         quick_build=True,  # short simulations: C++ compile time dominates
                         extra_env={"MIXFORGE_TB_PARAMS": json.dumps(params)})
        raw = json.loads(out.read_text()) if out.exists() else {"jobs": []}
    return PimRun(config=config, passed=res.passed, failures=res.failures,
                  jobs=tuple(raw["jobs"]), build_s=res.build_s, test_s=res.test_s,
                  waveforms=tuple(res.waveforms))
