"""``mixforge gen|verify|synth pe``: registered by ``mixforge.cli`` (no Amaranth import here)."""

from __future__ import annotations

import argparse
import json
import time
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
        description="Runs the PE in a free-running harness (vector memories, random valid/ready) "
                    "and checks every output bit for bit against models/pe.py. Exit 0 only "
                    "when every checked vector matched the reference model.")
    v.add_argument("--config", required=True, metavar="F")
    v.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    v.add_argument("--vectors", type=int, default=100_000, metavar="N",
                   help="seeded random vectors for the 16-bit operand spaces (default 100000)")
    v.add_argument("--sequences", type=int, default=200, metavar="N",
                   help="random accumulation sequences (1..1024 products each) with "
                        "back-pressure (default 200)")
    v.add_argument("--seed", type=int, default=6)
    v.add_argument("--waves", action="store_true", help="dump waveforms (their paths are printed)")
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


#: Per-cycle cocotb tests that ``verify pe`` runs besides the free-running harness: what the
#: harness cannot see from the ports (lane gating reads internal registers).
_PER_CYCLE = {"multiformat": "unused_lanes_hold_still",
              "shared_quire": "unused_lanes_hold_still",
              "separate_macs": "unused_lanes_hold_still"}


def _verify(args: argparse.Namespace) -> int:
    from mixforge.errors import ConfigError
    from mixforge.hw.pe.build import FAST_KINDS, run_pe_fast, run_pe_testbench
    from mixforge.hw.pe.specs import load_pe_config

    for flag in ("vectors", "sequences"):
        if getattr(args, flag) < 0:
            raise ConfigError(f"must be >= 0, not {getattr(args, flag)}", path=f"--{flag}")
    from mixforge.toolchain import cache_dir

    cfg = load_pe_config(args.config)
    log = cache_dir() / f"verify-{cfg.name}-{args.sim}.log"
    t0 = time.perf_counter()
    params = {"vectors": args.vectors, "sequences": args.sequences, "seed": args.seed}
    if cfg.spec.kind in FAST_KINDS:
        res = run_pe_fast(cfg.spec, sim=args.sim, name=cfg.name, waves=args.waves,
                          tb_params=params, log_file=log)
    else:  # a kind without harness plans: its per-cycle testbench does everything
        res = run_pe_testbench(cfg.spec, sim=args.sim, name=cfg.name, waves=args.waves,
                               tb_params=params, log_file=log)
    runs = [res]
    if cfg.spec.kind in _PER_CYCLE and cfg.spec.kind in FAST_KINDS:
        runs.append(run_pe_testbench(cfg.spec, sim=args.sim, name=cfg.name, waves=args.waves,
                                     tb_params=params, testcase=_PER_CYCLE[cfg.spec.kind],
                                     log_file=log.with_suffix(".per-cycle.log")))
    wall = time.perf_counter() - t0
    tests = sum(r.tests for r in runs)
    failed = sum(r.failed for r in runs)
    print(f"{cfg.name} ({cfg.spec.kind}) on {args.sim}: {tests} tests, "
          f"{res.vectors} vectors checked, {res.mismatches} mismatches, "
          f"build {sum(r.build_s for r in runs):.1f} s"
          f"{' (cached)' if all(r.cached_build for r in runs) else ''}, "
          f"simulation {sum(r.test_s for r in runs):.1f} s")
    print(f"  {'path':<34} {'vectors':>7} {'mism.':>5} {'vectors/s':>10} {'per CPU s':>10} "
          f"{'(sim only)':>10} {'cycles':>7}  model cross-check")
    for rec in res.records:
        rate = rec["vectors"] / rec["seconds"] if rec["seconds"] else 0.0
        cpu = rec.get("cpu_seconds") or 0.0
        cpu_rate = f"{rec['vectors'] / cpu:>10.0f}" if cpu else f"{'':>10}"
        sim_s = rec.get("sim_seconds") or 0.0
        sim_rate = f"{rec['vectors'] / sim_s:>10.0f}" if sim_s else f"{'':>10}"
        xc = {"cached": "table verified in full earlier (cached)",
              "all": f"all {rec.get('crosschecked')} outputs",
              "sample": f"{rec.get('crosschecked')} outputs sampled"}.get(
            rec.get("xcheck", ""), "")
        print(f"  {rec['test']:<34} {rec['vectors']:>7} {rec['mismatches']:>5} "
              f"{rate:>10.0f} {cpu_rate} {sim_rate} {rec.get('cycles', ''):>7}  {xc}")
        for line in [*rec["first_mismatches"], *rec.get("timing_errors", [])]:
            print(f"    {line}")
    for names in dict.fromkeys(tuple(r["shared_run"]) for r in res.records
                               if r.get("shared_run")):
        print(f"  {' + '.join(names)}: one harness run, each at its own rate and checked "
              f"apart (cycles are the run's; its simulation time is split by vectors)")
    if len(runs) > 1:
        print(f"  per-cycle {_PER_CYCLE[cfg.spec.kind]}: "
              f"{'passed' if runs[1].failed == 0 else 'FAILED'}")
    for fail in (f for r in runs for f in r.failures):
        print(f"  FAILED {fail}")
    for w in (w for r in runs for w in r.waveforms):
        print(f"  waveform: {w}")
    total_s = sum(rec["seconds"] for rec in res.records)
    total_cpu = sum(rec.get("cpu_seconds") or 0.0 for rec in res.records)
    if total_s and total_cpu:
        print(f"  all paths: {res.vectors / total_s:.0f} vectors/s end to end over "
              f"{total_s:.2f} s (vector generation, reference model and its cross-check, "
              f"simulation, checking), {res.vectors / total_cpu:.0f} per CPU second of the "
              f"simulator process")
    print(f"  simulator log: {log}; total {wall:.1f} s = {res.vectors / wall:.0f} vectors/s "
          f"including Verilog export, the simulator build (a cache check when cached), "
          f"simulator start-up"
          f"{' and the per-cycle test' if len(runs) > 1 else ''}")
    if args.json:
        _write_json(args.json, {"name": cfg.name, "kind": cfg.spec.kind, "sim": args.sim,
                                "tests": tests, "failed": failed, "vectors": res.vectors,
                                "mismatches": res.mismatches, "records": list(res.records),
                                "wall_s": round(wall, 2)})
    return 0 if failed == 0 and res.mismatches == 0 and tests > 0 else 1


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
        _write_json(args.json, fig)
    return 0


def _write_json(path: str, obj: Any) -> None:
    from mixforge.outputs import write_text

    print(f"wrote {write_text(path, json.dumps(obj, indent=2) + chr(10), '--json')}")
