"""Speed of ``mixforge sim serve``: 10,000 Mixtral-8x7B requests at a load that keeps the decode
batch near 64, on one core. Prints a Markdown row for BENCHMARKS.md.

    python benchmarks/bench_serve.py [--requests 10000] [--rate 10] [--hw examples/hw/duplex.yaml]

Reports wall and CPU time (``time.process_time``), peak RSS, the simulated time and its ratio
to CPU time, the mean decode batch, and the cache hit rates (SimCost's and the Simulator's).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np

from mixforge.workloads.serving.arrivals import parse_length_dist, synthetic_requests
from mixforge.workloads.serving.cost import SimCost
from mixforge.workloads.serving.engine import ServeConfig, simulate
from mixforge.workloads.serving.metrics import summarize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--hw", default="examples/hw/duplex.yaml")
    ap.add_argument("--model", default="mixtral-8x7b")
    ap.add_argument("--quant", default="w4a8-g128")
    ap.add_argument("--max-batch", type=int, default=128)
    args = ap.parse_args()
    rng = np.random.default_rng([0, 0])
    reqs = synthetic_requests(args.requests, args.rate,
                              parse_length_dist("lognormal:1024:0.6:4096"),
                              parse_length_dist("lognormal:256:0.6:2048"), rng)
    w0, c0 = time.perf_counter(), time.process_time()
    cost = SimCost.build(hw=args.hw, model=args.model, quant=args.quant)
    run = simulate(reqs, cost, ServeConfig(max_batch=args.max_batch))
    s = summarize(run)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    cache = cost.describe()["cache"]
    load = os.getloadavg()[0]
    print(f"| sim serve {args.model} {args.quant} on {args.hw.split('/')[-1]}, "
          f"{args.requests:,} req @ {args.rate:g}/s | {wall:.1f} s wall, {cpu:.1f} s CPU | "
          f"{rss:.0f} MiB peak RSS | {s['duration_s']:.0f} s simulated "
          f"({s['duration_s'] / cpu:.0f}x CPU) | batch {s['batch']['mean_decode']:.1f}, "
          f"{s['iterations']:,} iterations | hit rate {cache['hit_rate']:.1%} "
          f"(simulator {cache['simulator']['hit_rate']:.1%}, "
          f"{cache['simulator']['misses']} ops simulated) | {platform.processor() or 'cpu'}, "
          f"load avg {load:.1f} |")


if __name__ == "__main__":
    main()
