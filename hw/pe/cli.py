"""``mixforge gen|verify|synth pe``: registered by ``mixforge.cli`` (no Amaranth import here)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: dict[str, Any]) -> None:
    """Add the ``pe`` target to ``gen``, ``verify`` and ``synth``."""
    g = subparsers["gen"].add_parser("pe", help="Verilog + JSON sidecar of a PE config",
                                     description="Write DIR/<name>.v and DIR/<name>.json.")
    g.add_argument("--config", required=True, metavar="F", help="PE YAML (examples/pe/*.yaml)")
    g.add_argument("--out", required=True, metavar="DIR", help="output folder")
    g.set_defaults(func=_gen)

    v = subparsers["verify"].add_parser(
        "pe", help="cocotb testbench of a PE against models/pe.py",
        description="Exit 0 only when every checked vector matched the reference model.")
    v.add_argument("--config", required=True, metavar="F")
    v.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    v.add_argument("--vectors", type=int, default=100_000, metavar="N",
                   help="seeded random vectors for the 16-bit operand spaces (default 100000)")
    v.add_argument("--sequences", type=int, default=40, metavar="N",
                   help="random accumulation sequences with back-pressure (default 40)")
    v.add_argument("--seed", type=int, default=6)
    v.add_argument("--waves", action="store_true", help="dump waveforms in the build folder")
    v.add_argument("--json", metavar="OUT", help="also write the summary as JSON")
    v.set_defaults(func=_verify)

    s = subparsers["synth"].add_parser("pe", help="Yosys area / ECP5 LUTs and Fmax of a PE")
    s.add_argument("--config", required=True, metavar="F")
    s.add_argument("--target", default="generic", choices=("generic", "ecp5"))
    s.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    s.add_argument("--no-pnr", action="store_true", help="ecp5: skip nextpnr (no Fmax)")
    s.set_defaults(func=_synth)


def _gen(args: argparse.Namespace) -> int:
    from mixforge.hw.pe.build import export_pe
    from mixforge.hw.pe.specs import load_pe_config

    cfg = load_pe_config(args.config)
    exp = export_pe(cfg.spec, cfg.name, args.out)
    print(f"wrote {exp.verilog} and {exp.sidecar} (sha256 {exp.sha256[:12]})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from mixforge.errors import ConfigError
    from mixforge.hw.pe.build import run_pe_testbench
    from mixforge.hw.pe.specs import load_pe_config

    if args.vectors < 0:
        raise ConfigError(f"must be >= 0, not {args.vectors}", path="--vectors")
    from mixforge.toolchain import cache_dir

    cfg = load_pe_config(args.config)
    log = cache_dir() / f"verify-{cfg.name}-{args.sim}.log"
    t0 = time.perf_counter()
    res = run_pe_testbench(cfg.spec, sim=args.sim, name=cfg.name, waves=args.waves,
                           tb_params={"vectors": args.vectors, "sequences": args.sequences,
                                      "seed": args.seed}, log_file=log)
    wall = time.perf_counter() - t0
    print(f"{cfg.name} ({cfg.spec.kind}) on {args.sim}: {res.tests} tests, "
          f"{res.vectors} vectors checked, {res.mismatches} mismatches, "
          f"build {res.build_s:.1f} s{' (cached)' if res.cached_build else ''}, "
          f"simulation {res.test_s:.1f} s")
    for rec in res.records:
        rate = rec["vectors"] / rec["seconds"] if rec["seconds"] else 0.0
        sim_s = rec.get("sim_seconds") or 0.0
        sim_rate = f", {rec['vectors'] / sim_s:.0f}/s in simulation" if sim_s else ""
        print(f"  {rec['test']:<30} {rec['vectors']:>7} vectors {rec['mismatches']:>4} "
              f"mismatches  {rate:>7.0f} vectors/s{sim_rate}")
        for line in rec["first_mismatches"]:
            print(f"    {line}")
    for fail in res.failures:
        print(f"  FAILED {fail}")
    print(f"  simulator log: {log}; total {wall:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"name": cfg.name, "kind": cfg.spec.kind, "sim": args.sim, "tests": res.tests,
             "failed": res.failed, "vectors": res.vectors, "mismatches": res.mismatches,
             "records": list(res.records), "wall_s": round(wall, 2)}, indent=2) + "\n")
    return 0 if res.failed == 0 and res.mismatches == 0 and res.tests > 0 else 1


def _synth(args: argparse.Namespace) -> int:
    from mixforge.hw.pe.specs import load_pe_config
    from mixforge.hw.pe.synth import synth_pe

    cfg = load_pe_config(args.config)
    fig = synth_pe(cfg.spec, cfg.name, target=args.target, pnr=not args.no_pnr)
    keys = (["cells", "flip_flops", "cmos_transistors", "cmos_transistors_incl_ff"]
            if args.target == "generic" else ["lut4", "ff", "ccu2", "fmax_mhz"])
    print(f"{cfg.name} ({cfg.spec.kind}, {args.target})")
    for k in keys:
        print(f"  {k:<26} {fig.get(k)}")
    for part, pf in fig.get("parts", {}).items():
        print(f"  part {part:<21} {pf['cmos_transistors']} transistors (comb), "
              f"{pf['flip_flops']} flip-flops")
    if fig.get("pnr_note"):
        print(f"  note: {fig['pnr_note']}")
    top = sorted(fig["cells_by_type"].items(), key=lambda kv: -kv[1])[:8]
    print("  cells by type: " + ", ".join(f"{k} {v}" for k, v in top))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n")
    return 0
