"""Area (Yosys generic synth, cell counts) of the 4x4 / 8x8 arrays and the logic-PIM unit, and
measured vs spec vs ideal cycles of verified GEMMs.

    /work/venv/bin/python benchmarks/bench_array.py [--json OUT] [--no-synth]

The measured cycles are also written to ``--cycles`` (default examples/array/measured_cycles.json),
the file sim/ tests read to check their per-tile model against the RTL.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.hw.array.measure import generate_array
from mixforge.hw.array.synth import yosys_stat

CONFIGS = [ArrayConfig(rows=r, cols=r, dataflow=df, pe=pe, double_buffer=db)
           for r in (4, 8)
           for df, pe, db in (("ws", "shift_add", False), ("ws", "shift_add", True),
                              ("os", "shift_add", False), ("os", "posit8", False))]
SHAPES = [(16, 16, 16), (10, 13, 9), (64, 32, 16), (5, 21, 6)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--cycles", default=str(Path(__file__).parents[1] / "examples" / "array"
                                           / "measured_cycles.json"))
    ap.add_argument("--no-synth", action="store_true")
    args = ap.parse_args()
    rows, cycles = [], []
    for cfg in CONFIGS:
        entry: dict[str, object] = {"name": cfg.name}
        if not args.no_synth:
            t0 = time.perf_counter()
            st = yosys_stat(generate_array(cfg).read_text(), cfg.name)
            entry.update(cells=st["cells"], has_mul=st["has_mul"],
                         synth_s=round(time.perf_counter() - t0, 1))
        run = run_array_tb(cfg, SHAPES, seed=1)
        assert run.passed, run.failures
        entry["gemms"] = [{"MKN": [g.m, g.k, g.n], "measured": g.gemm_cycles,
                           "spec": g.spec_cycles, "ideal": g.ideal_cycles} for g in run.gemms]
        cycles.append({"config": cfg.params(), "gemms": [g.to_dict() for g in run.gemms]})
        rows.append(entry)
        print(json.dumps(entry))
    if not args.no_synth:
        from mixforge.hw.pim import PimConfig
        from mixforge.hw.pim.measure import generate_pim

        pc = PimConfig()
        st = yosys_stat(generate_pim(pc).read_text(), pc.name)
        rows.append({"name": pc.name, "cells": st["cells"], "has_mul": st["has_mul"]})
        print(json.dumps(rows[-1]))
    Path(args.cycles).write_text(json.dumps(cycles, indent=1) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
