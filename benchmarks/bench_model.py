"""Model-step simulation speed: Mixtral-8x7B decode (batch 64, KV 2048, 32 layers) cold and warm,
and a Llama-3-70B prefill of 8192 tokens cold, on h100_like.yaml.

Run: ``python benchmarks/bench_model.py`` (targets: Mixtral < 20 ms cold, < 1 ms warm; Llama-3-70B
prefill < 1 s cold). "Cold" = a fresh Simulator (empty result cache), graph building included;
"warm" = the same graph again on the same Simulator. Best of ``--repeat`` runs; imports and
YAML loading excluded; wall and process CPU time are both printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.workloads import build_model_graph, load_model, load_recipe

HW = Path(__file__).resolve().parents[1] / "examples" / "hw"


def _case(arch, model: str, recipe: str, repeat: int, **kw):  # type: ignore[no-untyped-def]
    m, r = load_model(model), load_recipe(recipe)
    cold, warm, cold_cpu, warm_cpu = [], [], [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        g = build_model_graph(m, r, arch=arch, **kw)
        sim = Simulator(arch)
        res = sim.run_graph(g)
        t1, c1 = time.perf_counter(), time.process_time()
        sim.run_graph(g)
        t2, c2 = time.perf_counter(), time.process_time()
        cold.append(t1 - t0)
        warm.append(t2 - t1)
        cold_cpu.append(c1 - c0)
        warm_cpu.append(c2 - c1)
        stats = sim.cache_stats()
    return (min(cold), min(warm), min(cold_cpu), min(warm_cpu)), res, stats, len(g.nodes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    arch = load_arch(HW / "h100_like.yaml")
    for label, model, recipe, kw in (
            ("Mixtral-8x7B decode b64 KV2048 fp16", "mixtral-8x7b", "fp16",
             {"phase": "decode", "batch": 64, "kv": 2048}),
            ("Mixtral-8x7B decode b64 KV2048 w4a16-g128", "mixtral-8x7b", "w4a16-g128",
             {"phase": "decode", "batch": 64, "kv": 2048}),
            ("Llama-3-70B prefill 8192 fp16", "llama-3-70b", "fp16",
             {"phase": "prefill", "batch": 1, "prompt": 8192})):
        (cold, warm, cc, wc), res, st, nodes = _case(arch, model, recipe, args.repeat, **kw)
        print(f"{label}: cold {cold * 1e3:,.1f} ms (CPU {cc * 1e3:,.1f}), warm "
              f"{warm * 1e3:,.3f} ms (CPU {wc * 1e3:,.3f}) "
              f"({nodes} nodes, {st['misses']} ops simulated, {st['hits']} cache hits); "
              f"simulated step {res.seconds * 1e3:,.3f} ms")


if __name__ == "__main__":
    main()
