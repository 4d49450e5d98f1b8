"""PE area / speed / verification-throughput figures for BENCHMARKS.md.

    /work/venv/bin/python benchmarks/bench_pe.py [--ecp5] [--verify] [--json OUT]

Generic Yosys synthesis (cells, CMOS transistor estimate) for ShiftAddPE vs the
dequantize-first multiplier PE at k = 2, 4, 8 (INT8 activations) and for W4A16; the
``-serial`` pairs compare ShiftAddPE with its amortised (multi-cycle) dequant unit
(``dequant: serial``) against the baseline with its full-rate readout and, like for like,
with its serial tensor-scale readout (``readout: serial``; rounding parallel in all); and for
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
    *[(f"W{k}A8-serial", ShiftAddSpec(k=k, act="int8", group=128, dequant="serial"),
       (DequantFirstSpec(k=k), DequantFirstSpec(k=k, readout="serial"))) for k in (2, 4, 8)],
    ("W4A16-serial", ShiftAddSpec(k=4, act="fp16", group=128, dequant="serial"),
     (FP16MacSpec(k=4),)),
    ("multi-format", MultiFormatSpec(out="posit16_es1"),
     (SharedQuireSpec(out="posit16_es1"), SeparateMacsSpec(out="posit16_es1"))),
]


def main() -> None:
    from mixforge.hw.pe.synth import synth_pe

    ap = argparse.ArgumentParser()
    ap.add_argument("--ecp5", action="store_true")
    ap.add_argument("--ecp5-only", help="comma-separated pair labels to run ECP5 for")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--rounding", action="store_true",
                    help="also synthesize the common readout rounding alone (round_to_float of "
                         "the W4A8 accumulators) to separate it from the PE figures")
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
            name = f"{spec.kind}_{label.replace('-', '_')}_{tag}"  # type: ignore[attr-defined]
            fig = synth_pe(spec, name, target="generic")
            d: dict[str, object] = {"kind": _design(spec), "cmos": fig["cmos_transistors"],
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
    if args.rounding:
        rows.append({"rounding": [_rounding_cost(w, "float32") for w in (81, 75)]})
        print(json.dumps(rows[-1]), flush=True)
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


def _rounding_cost(width: int, fmt: str) -> dict[str, object]:
    """``round_to_float`` of a registered ``width``-bit signed value, with its pipeline stage,
    as in the PEs' readouts (81 bits: ShiftAddPE W4A8's accumulator; 75: the dequantize-first
    PE's scaled value). CMOS figure: combinational logic only."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from mixforge.hw.export import to_verilog
    from mixforge.hw.pe.arith import FLOAT_FIELDS, enabled_stage, round_to_float
    from mixforge.hw.pe.synth import synth_verilog

    class Rounder(wiring.Component):
        def __init__(self) -> None:
            super().__init__({"x": In(signed(width)), "nan": In(1),
                              "o": Out(1 + sum(FLOAT_FIELDS[fmt][:2]))})

        def elaborate(self, platform: object) -> Module:
            m = Module()
            x, nan = Signal(signed(width)), Signal()
            m.d.sync += [x.eq(self.x), nan.eq(self.nan)]
            r = round_to_float(m, x, lsb=-24, fmt=fmt, nan=nan, name="rd",
                               stage=enabled_stage(m, 1))
            m.d.sync += self.o.eq(r)
            return m

    fig = synth_verilog(to_verilog(Rounder(), "rounder"), "rounder")
    return {"width": width, "fmt": fmt, "cmos": fig["cmos_transistors"],
            "ff": fig["flip_flops"]}


def _design(spec: object) -> str:
    """Kind, plus the serial option when set (``shift_add/serial-dequant``)."""
    kind = str(spec.kind)  # type: ignore[attr-defined]
    for opt in ("dequant", "readout"):
        if getattr(spec, opt, "parallel") == "serial":
            kind += f"/serial-{opt}"
    return kind


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
