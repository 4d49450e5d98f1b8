"""Sweep throughput: single-op points per minute per core, and a large sweep end to end.

    python benchmarks/bench_sweep.py                 # 2,000 op points, 1 process
    python benchmarks/bench_sweep.py --points 10000 --jobs 2 --report

Writes a spec of decode/prefill GEMM shapes x array sizes x HBM rates on the MixPE-like device
into a temporary folder, runs it into a fresh store, and prints points/min and points/min per
worker (CPU time of the coordinator and workers is not separated: on a shared machine, quote
the wall figure with the machine's load). ``--report`` also times ``mixforge report``.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _spec(n: int) -> str:
    # n ~= rows(4) x rate(5) x m x k x n_out grid: pick the GEMM grid to reach n points
    per = max(1, math.ceil(n / 20))
    side = max(1, round(per ** (1 / 3)))
    ms = [2 ** i for i in range(side)]
    ks = [256 * (i + 1) for i in range(side)]
    ns = [512 * (i + 1) for i in range(max(1, math.ceil(per / (side * side))))]
    return f"""schema_version: 1
name: bench
kind: op
base:
  hw: {ROOT / 'examples/hw/mixpe_w4a8.yaml'}
  op: {{m: 1, k: 256, n: 512, w: int4, a: int8, group_size: 128}}
axes:
  hw.xpu.array.rows: [8, 16, 32, 64]
  hw.hbm.data_rate_bps: {{linspace: [5.0e+8, 2.5e+9, 5]}}
  op.m: {ms}
  op.k: {ks}
  op.n: {ns}
derived:
  hw.xpu.array.cols: hw.xpu.array.rows
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    from mixforge.reports.executors import make_executor
    from mixforge.reports.runner import run_sweep
    from mixforge.reports.spec import load_spec
    from mixforge.reports.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "bench.yaml"
        spec_path.write_text(_spec(args.points))
        t0 = time.perf_counter()
        spec = load_spec(spec_path)
        pts = len(spec.points())
        t1 = time.perf_counter()
        cpu0 = os.times()
        with Store(Path(tmp) / "r.db") as st:
            prog = run_sweep(spec, st, make_executor("local", jobs=args.jobs))
        t2 = time.perf_counter()
        cpu1 = os.times()
        wall = t2 - t1
        cpu = (cpu1.user + cpu1.system + cpu1.children_user + cpu1.children_system
               - cpu0.user - cpu0.system - cpu0.children_user - cpu0.children_system)
        print(f"{pts} op points (expand {t1 - t0:.1f} s), {args.jobs} worker(s): "
              f"{prog.done} ok, {prog.failed} failed in {wall:.1f} s wall -> "
              f"{pts / wall * 60:,.0f} points/min, {pts / wall * 60 / args.jobs:,.0f} "
              f"points/min per worker; {cpu:.1f} s CPU -> {pts / cpu * 60:,.0f} points per "
              "CPU-minute" if cpu > 0 else "")
        if args.report:
            from mixforge.reports.html import write_report

            t3 = time.perf_counter()
            write_report(Path(tmp) / "r.db", Path(tmp) / "report")
            print(f"report of {pts} points: {time.perf_counter() - t3:.1f} s")


if __name__ == "__main__":
    main()
