"""PE area / speed / verification-throughput figures for BENCHMARKS.md.

    /work/venv/bin/python benchmarks/bench_pe.py [--ecp5] [--verify] [--json OUT]

Generic Yosys synthesis (cells, CMOS transistor estimate) for ShiftAddPE vs the
dequantize-first multiplier PE at k = 2, 4, 8 (INT8 activations) and for W4A16, and for
MultiFormatMAC vs its two baselines (separate multipliers with a shared quire; separate complete
MACs per format); ``--ecp5`` adds ECP5 LUT4/FF/CCU2 and nextpnr Fmax (about
2 min per design); ``--verify`` measures checked vectors per second on Verilator (and Icarus
when installed) for a single PE.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mixforge.hw.pe.specs import (
    DequantFirstSpec,
    FP16MacSpec,
    MultiFormatSpec,
    SeparateMacsSpec,
    SharedQuireSpec,
    ShiftAddSpec,
)

# (label, ours, baselines...)
PAIRS: list[tuple[str, object, tuple[object, ...]]] = [
    ("W2A8", ShiftAddSpec(k=2, act="int8", group=128), (DequantFirstSpec(k=2),)),
    ("W4A8", ShiftAddSpec(k=4, act="int8", group=128), (DequantFirstSpec(k=4),)),
    ("W8A8", ShiftAddSpec(k=8, act="int8", group=128), (DequantFirstSpec(k=8),)),
    ("W4A16", ShiftAddSpec(k=4, act="fp16", group=128), (FP16MacSpec(k=4),)),
    ("multi-format", MultiFormatSpec(out="posit16_es1"),
     (SharedQuireSpec(out="posit16_es1"), SeparateMacsSpec(out="posit16_es1"))),
]


def main() -> None:
    from mixforge.hw.pe.synth import synth_pe

    ap = argparse.ArgumentParser()
    ap.add_argument("--ecp5", action="store_true")
    ap.add_argument("--ecp5-only", help="comma-separated pair labels to run ECP5 for")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--only", help="comma-separated pair labels (e.g. 'none' with --verify)")
    ap.add_argument("--json", default="bench_pe.json")
    ap.add_argument("--pnr-timeout", type=float, default=600, metavar="S",
                    help="nextpnr time limit per design (a loaded machine needs more)")
    args = ap.parse_args()
    rows = []
    for label, new, bases in PAIRS:
        if args.only and label not in args.only.split(","):
            continue
        row: dict[str, object] = {"pair": label}
        tags = [("new", new)] + [(f"base{i or ''}", b) for i, b in enumerate(bases)]
        for tag, spec in tags:
            name = f"{spec.kind}_{label.replace('-', '_')}"  # type: ignore[attr-defined]
            fig = synth_pe(spec, name, target="generic")
            d: dict[str, object] = {"kind": fig["kind"], "cmos": fig["cmos_transistors"],
                        "cmos_ff": fig["cmos_transistors_incl_ff"], "cells": fig["cells"],
                        "ff": fig["flip_flops"],
                        "core_cmos": fig["parts"]["core"]["cmos_transistors"],
                        "core_cmos_ff": fig["parts"]["core"]["cmos_transistors_incl_ff"]}
            row[tag] = d
            if args.ecp5 and (not args.ecp5_only or label in args.ecp5_only.split(",")):
                e = synth_pe(spec, name, target="ecp5", pnr_timeout_s=args.pnr_timeout)
                d.update({"lut4": e["lut4"], "ecp5_ff": e["ff"], "ccu2": e["ccu2"],
                          "fmax_mhz": e["fmax_mhz"]})
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.verify:
        rows.append({"verify": _verify_rates()})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print("| pair | design | CMOS transistors (comb) | incl. FF | core (comb) | core incl. FF | "
          "cells | FF | LUT4 | CCU2 | Fmax MHz |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if "pair" not in row:
            continue
        tags = [t for t in row if t.startswith(("new", "base"))]
        for tag in tags:
            d = row[tag]  # type: ignore[assignment]
            assert isinstance(d, dict)
            print(f"| {row['pair']} | {d['kind']} | {d['cmos']} | {d['cmos_ff']} | "
                  f"{d['core_cmos']} | {d['core_cmos_ff']} | {d['cells']} "
                  f"| {d['ff']} | {d.get('lut4', '')} | {d.get('ccu2', '')} | "
                  f"{d.get('fmax_mhz', '')} |")
        n = row["new"]
        for tag in tags[1:]:
            b = row[tag]
            assert isinstance(n, dict) and isinstance(b, dict)
            lut = f"{n['lut4'] / b['lut4']:.2f}" if "lut4" in n and "lut4" in b else ""
            print(f"| {row['pair']} | ratio new/{b['kind']} | {n['cmos'] / b['cmos']:.2f} | "
                  f"{n['cmos_ff'] / b['cmos_ff']:.2f} | "
                  f"{n['core_cmos'] / b['core_cmos']:.2f} | "
                  f"{n['core_cmos_ff'] / b['core_cmos_ff']:.2f} | {n['cells'] / b['cells']:.2f} "
                  f"| | {lut} | | |")


def _verify_rates() -> list[dict[str, object]]:
    from mixforge.hw.pe.build import run_pe_fast
    from mixforge.toolchain import simulator_available

    out = []
    for sim in ("verilator", "icarus"):
        if not simulator_available(sim):
            continue
        for spec in (ShiftAddSpec(k=8, act="int8"), MultiFormatSpec()):
            t0 = time.perf_counter()
            res = run_pe_fast(spec, sim=sim, tb_params={"vectors": 100_000},
                                   log_file=Path(tempfile.gettempdir()) / "bench_pe_tb.log")
            for rec in res.records:
                out.append({"sim": sim, "kind": spec.kind, "test": rec["test"],
                            "vectors": rec["vectors"],
                            "vectors_per_s": round(rec["vectors"] / rec["seconds"]),
                            "vectors_per_cpu_s": round(rec["vectors"] / rec["cpu_seconds"]),
                            "vectors_per_s_sim_only": round(rec["vectors"] / rec["sim_seconds"])
                            if rec.get("sim_seconds") else None})
            out.append({"sim": sim, "kind": spec.kind, "wall_s": round(time.perf_counter() - t0,
                                                                      1)})
    return out


if __name__ == "__main__":
    main()
