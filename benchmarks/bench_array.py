"""Area of the 4x4 / 8x8 PE arrays and the logic-PIM unit, and measured vs spec vs ideal cycles
of verified GEMMs.

    /work/venv/bin/python benchmarks/bench_array.py [--json OUT] [--no-synth] [--no-cycles]
                                                    [--sizes 4,8] [--only NAME,...]

Area: Yosys generic ``synth`` (cell count), then ``abc -g cmos2; stat -tech cmos`` (CMOS
transistors of the combinational logic; ``+ff`` adds 24 per flip-flop bit), for the MixPE
shift-and-add array without and with its edge group-dequant units (group 128, W4A8, float32
out) and for the dequantize-first INT8 multiplier baseline (the ratio the MixPE claim is about),
plus the WS and posit8 arrays and the WS array with its edge group dequant (group 128,
``acc_depth`` 16). The latter's per-row accumulator memories stay ``$mem`` cells (SRAM macros
in a real flow; ``mixforge.hw.pim.synth`` flow, ``memory_bits`` reported apart, not as gates).

The measured cycles are also written to ``--cycles`` (default examples/array/measured_cycles.json),
the file sim/ tests read to check their per-tile model against the RTL: each measured array
replaces its own entry (same config) after it finishes, the other entries are kept, so
``--only`` re-measures a few arrays and a stopped run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mixforge.hw.array import ArrayConfig, run_array_tb
from mixforge.hw.array.synth import synth_array

#: Edge accumulator depth (rows) of the WS dequant arrays: area figures / cycle runs (the
#: latter cuts the 64-row GEMM into M-chunks).
WS_AREA_ACC_DEPTH = 16
WS_CYCLES_ACC_DEPTH = 24


def _area_configs(sizes: list[int]) -> list[ArrayConfig]:
    out = []
    for r in sizes:
        out += [ArrayConfig(rows=r, cols=r, dataflow="os", pe="shift_add"),
                ArrayConfig(rows=r, cols=r, dataflow="os", pe="shift_add", dequant=True,
                            group=128),
                ArrayConfig(rows=r, cols=r, dataflow="os", pe="dequant_first"),
                ArrayConfig(rows=r, cols=r, dataflow="ws", pe="shift_add"),
                # WS MixPE edge dequant: per-row accumulator memories (FFs in generic synth)
                ArrayConfig(rows=r, cols=r, dataflow="ws", pe="shift_add", dequant=True,
                            group=128, acc_depth=WS_AREA_ACC_DEPTH)]
    out += [ArrayConfig(rows=r, cols=r, dataflow=df, pe="posit8") for df in ("os", "ws")
            for r in sizes]
    # XR-NPE multiformat cells (posit16 out) and the W4A16 dequantize-first FP16 baseline
    out += [ArrayConfig(rows=r, cols=r, dataflow="os", pe="multiformat", out="posit16_es1")
            for r in sizes]
    out += [ArrayConfig(rows=r, cols=r, dataflow="os", pe="fp16_mac") for r in sizes]
    # MixPE W4A16: shift-and-add cells on FP16 activations (fixed point), edge group dequant
    out += [ArrayConfig(rows=r, cols=r, dataflow=df, pe="shift_add", act="fp16", dequant=True,
                        group=128, acc_depth=WS_AREA_ACC_DEPTH) for r in sizes
            for df in ("os", "ws")]
    # the multiformat MAC's baselines (posit16 out): shared quire, one complete MAC per format
    out += [ArrayConfig(rows=r, cols=r, dataflow="os", pe=pe, out="posit16_es1")
            for pe in ("shared_quire", "separate_macs") for r in sizes]
    # WS arrays of the rounding-edge kinds: exact accumulator memories per column at the
    # bottom edge ($mem cells, bits apart), one rounding per output
    out += [ArrayConfig(rows=r, cols=r, dataflow="ws", pe=pe, acc_depth=WS_AREA_ACC_DEPTH,
                        out="float32" if pe in ("dequant_first", "fp16_mac") else "posit16_es1")
            for pe in ("dequant_first", "fp16_mac", "multiformat", "shared_quire", "separate_macs")
            for r in sizes]
    return out


def _cycle_configs(sizes: list[int]) -> list[ArrayConfig]:
    return [ArrayConfig(rows=r, cols=r, dataflow=df, pe=pe, double_buffer=db, dequant=dq,
                        group=8 if dq or pe in ("dequant_first", "fp16_mac") else 128,
                        out="posit16_es1" if pe == "multiformat" else "float32",
                        acc_depth=WS_CYCLES_ACC_DEPTH if dq and df == "ws" else 64)
            for r in sizes
            for df, pe, db, dq in (("ws", "shift_add", False, False),
                                   ("ws", "shift_add", True, False),
                                   ("os", "shift_add", False, False),
                                   ("os", "posit8", False, False),
                                   ("ws", "posit8", False, False),
                                   ("os", "shift_add", False, True),
                                   ("os", "dequant_first", False, False),
                                   ("ws", "shift_add", False, True),
                                   ("ws", "shift_add", True, True),
                                   # multiformat: the shapes run in modes fp4x4, p4x4, p8x2,
                                   # p16x1 in turn (K streams as ceil(K / L) words)
                                   ("os", "multiformat", False, False),
                                   ("os", "fp16_mac", False, False))] + [
        # MixPE W4A16 (FP16 activations on shift-and-add cells), edge group dequant
        ArrayConfig(rows=r, cols=r, dataflow=df, pe="shift_add", act="fp16", dequant=True,
                    group=8, acc_depth=WS_CYCLES_ACC_DEPTH if df == "ws" else 64)
        for r in sizes for df in ("os", "ws")] + [
        # the multiformat MAC's baselines: the shapes run in every mode in turn, as multiformat
        ArrayConfig(rows=r, cols=r, dataflow="os", pe=pe, out="posit16_es1")
        for r in sizes for pe in ("shared_quire", "separate_macs")] + [
        # WS rounding-edge kinds (M cut into acc_depth chunks; multi-format kinds
        # double-buffered, their shapes run in every mode in turn)
        ArrayConfig(rows=r, cols=r, dataflow="ws", pe=pe,
                    double_buffer=pe in ("multiformat", "shared_quire", "separate_macs"),
                    group=8, acc_depth=WS_CYCLES_ACC_DEPTH,
                    out="float32" if pe in ("dequant_first", "fp16_mac") else "posit16_es1")
        for r in sizes for pe in ("dequant_first", "fp16_mac", "multiformat", "shared_quire",
                                  "separate_macs")]


SHAPES = [(16, 16, 16), (10, 13, 9), (64, 32, 16), (5, 21, 6)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--cycles", default=str(Path(__file__).parents[1] / "examples" / "array"
                                           / "measured_cycles.json"))
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-cycles", action="store_true")
    ap.add_argument("--sizes", default="4,8", help="array sizes R = C (comma separated)")
    ap.add_argument("--only", default="", help="synthesize / run only arrays whose name "
                                               "contains one of these comma-separated strings")
    args = ap.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    rows: list[dict[str, object]] = []
    only = [v for v in args.only.split(",") if v]

    def wanted(cfg: ArrayConfig) -> bool:
        return not only or any(v in cfg.name for v in only)

    if not args.no_synth:
        for cfg in _area_configs(sizes):
            if not wanted(cfg):
                continue
            t0 = time.perf_counter()
            st = synth_array(cfg)  # WS dequant edge memories stay $mem cells, bits apart
            entry = {"name": cfg.name, "cells": st["cells"], "flip_flops": st["flip_flops"],
                     "cmos_transistors": st["cmos_transistors"],
                     "cmos_transistors_incl_ff": st["cmos_transistors_incl_ff"],
                     "has_mul": st["has_mul"], "synth_s": round(time.perf_counter() - t0, 1)}
            if st["memory_bits"]:
                entry["memory_bits"] = st["memory_bits"]
            rows.append(entry)
            print(json.dumps(entry), flush=True)
        # The logic-PIM unit's area (activation buffer as a memory): benchmarks/bench_pim.py.
    if not args.no_cycles:
        cycles_path = Path(args.cycles)
        # each measured array replaces its own entry; the others' entries are kept (a
        # partial run, --only, or a stopped run never loses what is already measured)
        cycles: list[dict[str, object]] = (json.loads(cycles_path.read_text())
                                           if cycles_path.exists() else [])
        for cfg in _cycle_configs(sizes):
            if not wanted(cfg):
                continue
            run = run_array_tb(cfg, SHAPES, seed=1)
            assert run.passed, run.failures
            assert all(g.matches_spec for g in run.gemms), cfg.name
            entry = {"name": cfg.name,
                     "gemms": [{"MKN": [g.m, g.k, g.n], "mode": g.mode,
                                "measured": g.gemm_cycles,
                                "spec": g.spec_cycles, "ideal": g.ideal_cycles}
                               for g in run.gemms]}
            new = {"config": cfg.params(), "gemms": [g.to_dict() for g in run.gemms]}
            same = [i for i, c in enumerate(cycles) if c["config"] == new["config"]]
            if same:
                cycles[same[0]] = new
            else:
                cycles.append(new)
            # written after every array, so a stopped run keeps what it measured
            cycles_path.write_text(json.dumps(cycles, indent=1) + "\n")
            rows.append(entry)
            print(json.dumps(entry), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
