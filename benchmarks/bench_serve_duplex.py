"""Duplex's shape on the serving simulator: tokens/s of xPU + logic-PIM (``--dispatch duplex``)
over the xPU alone (``--dispatch xpu``) on the same device, Mixtral-8x7B.

    python benchmarks/bench_serve_duplex.py [--quant w4a16-g128]

Each case serves ``batch`` requests that all arrive at t = 0 (prompt ``lin``, output ``lout``,
``max_batch = batch``): throughput = output tokens / makespan. Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mixforge.sim.arch import load_arch
from mixforge.workloads.recipes import load_recipe
from mixforge.workloads.serving.arrivals import Requests
from mixforge.workloads.serving.cost import SimCost
from mixforge.workloads.serving.engine import ServeConfig, simulate
from mixforge.workloads.serving.metrics import summarize
from mixforge.workloads.zoo import load_model

CASES = ((1, 4096, 16), (1, 4096, 64), (1, 256, 256), (32, 1024, 256), (64, 256, 256),
         (64, 2048, 512), (128, 512, 512))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", default="examples/hw/duplex.yaml")
    ap.add_argument("--quant", default="w4a16-g128")
    args = ap.parse_args()
    arch, model, recipe = load_arch(args.hw), load_model("mixtral-8x7b"), load_recipe(args.quant)
    costs = {d: SimCost(arch, model, recipe, dispatch=d) for d in ("xpu", "duplex")}
    print("| batch | prompt | output | xPU tok/s | xPU+PIM tok/s | speedup | PIM share of "
          "time | TBT p50 xPU / Duplex (ms) | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch, lin, lout in CASES:
        reqs = Requests(np.zeros(batch), np.full(batch, lin), np.full(batch, lout))
        res = {}
        c0 = time.process_time()
        for d, cost in costs.items():
            s = summarize(simulate(reqs, cost, ServeConfig(max_batch=batch,
                                                           max_batched_tokens=max(8192, lin))))
            res[d] = s
        tx = res["xpu"]["throughput"]["output_tokens_per_s"]
        td = res["duplex"]["throughput"]["output_tokens_per_s"]
        pim = res["duplex"]["units"]["share_time"].get("pim", 0.0)
        tbt = [res[d]["latency_s"]["tbt"]["p50"] * 1e3 for d in ("xpu", "duplex")]
        print(f"| {batch} | {lin} | {lout} | {tx:,.0f} | {td:,.0f} | {td / tx:.2f}x | "
              f"{pim:.0%} | {tbt[0]:.1f} / {tbt[1]:.1f} | {time.process_time() - c0:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
