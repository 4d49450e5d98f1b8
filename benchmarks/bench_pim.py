"""Logic-PIM unit: area per lane type (Yosys, activation buffer kept as a memory) and measured
sustained bytes/cycle and stall behaviour per weight x activation format and token count.

    python benchmarks/bench_pim.py [--json OUT] [--no-synth] [--k 512] [--n 8]
        [--config examples/pim/<file>.yaml] [--w-formats fp8_e4m3,fp16] [--a-formats fp16]
        [--tokens 1,4,8,16] [--only-ideal] [--variant fp8]

``--config`` / ``--w-formats`` / ``--a-formats`` choose the unit (default: the first example,
every pair it builds); ``--only-ideal`` measures behind the ideal DRAM only.

Area: ``examples/pim/logic_pim_unit.yaml``'s unit (4 banks x 64-bit bursts, 8 tokens, 16 words)
built with each lane type of :data:`mixforge.hw.pim.synth.LANE_VARIANTS`. Throughput: the same
unit with ``max_tokens = 16``, every format pair, tokens 1/4/8/16, a GEMV of K x N, behind an
ideal DRAM (latency 1, no misses / stalls) and the example's DRAM model, and with a consumer
that is ready 90 % of the cycles. Prints markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from mixforge.hw.pim import DramModel, PimUnitConfig, PimVerify, load_pim_file, run_pim_tb
from mixforge.hw.pim.synth import LANE_VARIANTS, synth_pim

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pim" / "logic_pim_unit.yaml"
TOKENS = (1, 4, 8, 16)


def area(base: PimUnitConfig, only: str | None = None) -> list[dict[str, object]]:
    rows = []
    print("| lane type | lanes | logic cells | flip-flops | CMOS transistors (incl. FF) "
          "| buffer (memory bits) | Yosys s |\n|---|---|---|---|---|---|---|")
    for label, (wf, af) in LANE_VARIANTS.items():
        if only is not None and only not in label:
            continue
        cfg = dataclasses.replace(base, w_formats=wf, a_formats=af)
        st = synth_pim(cfg)
        st.pop("cells_by_type")
        rows.append({"lane_type": label, **st})
        print(f"| {label} | {st['lanes']} | {st['cells']:,} | {st['flip_flops']:,} | "
              f"{st['cmos_transistors_incl_ff']:,} | {st['memory_bits']:,} | {st['yosys_s']} |",
              flush=True)
    return rows


def throughput(base: PimUnitConfig, k: int, n: int, seed: int, tokens: tuple[int, ...] = TOKENS,
               only_ideal: bool = False) -> list[dict[str, object]]:
    cfg = dataclasses.replace(base, max_tokens=max(tokens))
    pairs = list(cfg.pairs)
    jobs = tuple((f"gemv_{w}", t, k, n, a) for w, a in pairs for t in tokens)
    drams = {"ideal": (DramModel(latency=1, row_miss=0, queue=4), 1.0)}
    if not only_ideal:
        drams.update({"example DRAM": (load_pim_file(EXAMPLE).verify.dram, 1.0),
                      "example DRAM, out_ready 0.9": (load_pim_file(EXAMPLE).verify.dram, 0.9)})
    rows: list[dict[str, object]] = []
    for label, (dram, ready) in drams.items():
        t0 = time.perf_counter()
        run = run_pim_tb(cfg, PimVerify(jobs=jobs, dram=dram, out_ready=ready, seed=seed))
        if not run.passed:
            raise SystemExit(f"{label}: FAILED {run.failures}")
        for j in run.jobs:
            rows.append({"dram": label, "out_ready": ready, **j})
        print(f"{label}: {len(run.jobs)} jobs bit-exact, {time.perf_counter() - t0:.0f} s "
              f"(build {run.build_s:.0f} s)", flush=True)
    peak = cfg.width // 8
    print(f"\nSustained weight bytes/cycle (peak {peak}), GEMV K={k}, N={n}; "
          "cells: ideal / example DRAM / example DRAM + consumer ready 90 %")
    print("| weights x acts | " + " | ".join(f"{t} tok" for t in tokens) + " |")
    print("|---|" + "---|" * len(tokens))
    for w, a in pairs:
        cells = []
        for t in tokens:
            v = [r for r in rows if r["w_fmt"] == w and r["a_fmt"] == a and r["tokens"] == t]
            cells.append(" / ".join(f"{r['bytes_per_cycle']:.1f}" for r in v))
        print(f"| {w} x {a} | " + " | ".join(cells) + " |")
    print("\nStalls with the example DRAM (consumer ready 90 %): cycles vs ideal, cycles the "
          "unit waited for DRAM, cycles a result waited for the consumer")
    print("| weights x acts | tokens | cycles | ideal | starved | out held | row misses |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["dram"] == "example DRAM, out_ready 0.9" and r["tokens"] in (1, max(tokens)):
            print(f"| {r['w_fmt']} x {r['a_fmt']} | {r['tokens']} | {r['cycles']} | "
                  f"{r['ideal_cycles']} | {r['starved_cycles']} | {r['out_held_cycles']} | "
                  f"{r['row_misses']} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-sim", action="store_true")
    ap.add_argument("--k", type=int, default=512)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default=str(EXAMPLE))
    ap.add_argument("--w-formats", default=None)
    ap.add_argument("--a-formats", default=None)
    ap.add_argument("--tokens", default=",".join(map(str, TOKENS)))
    ap.add_argument("--only-ideal", action="store_true")
    ap.add_argument("--variant", default=None, help="synthesize only lane types containing this")
    args = ap.parse_args()
    base = load_pim_file(args.config).pim
    if args.w_formats:
        base = dataclasses.replace(base, w_formats=tuple(args.w_formats.split(",")))
    if args.a_formats:
        base = dataclasses.replace(base, a_formats=tuple(args.a_formats.split(",")))
    out: dict[str, object] = {"config": base.params()}
    if not args.no_sim:
        out["throughput"] = throughput(base, args.k, args.n, args.seed,
                                       tuple(int(t) for t in args.tokens.split(",")),
                                       args.only_ideal)
    if not args.no_synth:
        out["area"] = area(base, args.variant)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
