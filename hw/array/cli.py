"""``mixforge gen|verify|synth array|pim``: the PE array and the logic-PIM unit.

Imports nothing heavy at import time (Amaranth loads inside the handlers).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["register"]


def _parse_gemm(text: str) -> tuple[int, int, int]:
    from mixforge.errors import ConfigError

    try:
        m, k, n = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"must be three integers M,K,N, not {text!r}", path="--gemm") from None
    if min(m, k, n) <= 0:
        raise ConfigError(f"must be positive, not {text!r}", path="--gemm")
    return m, k, n


def _write_json(path: str | None, obj: Any) -> None:
    if path:
        from mixforge.outputs import write_text

        out = write_text(path, json.dumps(obj, indent=1, default=str) + "\n", "--json")
        print(f"wrote {out}")


# ------------------------------------------------------------------------------ array
def _gen_array(args: argparse.Namespace) -> int:
    from mixforge.hw.array.config import load_array_file
    from mixforge.hw.array.measure import generate_array

    cfg = load_array_file(args.config).array
    v = generate_array(cfg, args.out)
    print(f"wrote {v} and {v.with_suffix('.json')}")
    return 0


def _verify_array(args: argparse.Namespace) -> int:
    from mixforge.hw.array.config import load_array_file
    from mixforge.hw.array.measure import run_array_tb

    f = load_array_file(args.config)
    cfg, plan = f.array, f.verify
    shapes = [_parse_gemm(args.gemm)] if args.gemm else list(plan.shapes)
    t0 = time.perf_counter()
    run = run_array_tb(cfg, shapes, group_size=plan.group_size, seed=plan.seed, sim=args.sim,
                       waves=args.waves, modes=plan.modes)
    ok = run.passed and all(g.matches_spec for g in run.gemms)
    print(f"{'PASS' if ok else 'FAIL'} {cfg.name} on {args.sim}: {len(run.gemms)} GEMMs "
          f"bit-exact={run.passed}, {time.perf_counter() - t0:.1f} s")
    for g in run.gemms:
        print(f"  {g.m}x{g.k}x{g.n}: {g.gemm_cycles} cycles measured, {g.spec_cycles} spec, "
              f"{g.ideal_cycles} ideal, {len(g.folds)} folds")
    for failure in run.failures:
        print(f"  {failure}")
    for w in run.waveforms:
        print(f"  waveform: {w}")
    if args.json:
        obj = run.to_dict()
        if args.gemm:
            obj = {"config": cfg.params(), **run.gemms[0].to_dict()} if run.gemms else obj
        _write_json(args.json, obj)
    return 0 if ok else 1


def _synth_array(args: argparse.Namespace) -> int:
    from mixforge.hw.array.config import load_array_file
    from mixforge.hw.array.synth import synth_array

    cfg = load_array_file(args.config).array
    st = synth_array(cfg, memories=args.memories)
    kept = st["memory_mapping"] == "keep"
    print(f"{cfg.name}: {st['cells']} {'logic ' if kept else ''}cells, "
          f"{st['flip_flops']} flip-flops, {st['cmos_transistors']} CMOS transistors "
          f"(+ff: {st['cmos_transistors_incl_ff']}), "
          f"multiplier: {'yes' if st['has_mul'] else 'no'}")
    if st["memories"]:
        how = ("kept as $mem cells (SRAM macros), not in the cells" if kept else
               "mapped to flip-flops and multiplexers, included in the cells")
        print(f"  {st['memories']} memories, {st['memory_bits']} bits, {how}:")
        print(f"    {'memory':<12} {'depth':>6} {'width':>6} {'bits':>8}")
        for mem in st["memory_shapes"]:
            print(f"    {mem['name']:<12} {mem['depth']:>6} {mem['width']:>6} {mem['bits']:>8}")
    _write_json(args.json, st)
    return 0


# ------------------------------------------------------------------------------ pim
def _gen_pim(args: argparse.Namespace) -> int:
    from mixforge.hw.pim.config import load_pim_file
    from mixforge.hw.pim.measure import generate_pim

    cfg = load_pim_file(args.config).pim
    v = generate_pim(cfg, args.out)
    print(f"wrote {v} and {v.with_suffix('.json')}")
    return 0


def _verify_pim(args: argparse.Namespace) -> int:
    from mixforge.hw.pim.config import load_pim_file
    from mixforge.hw.pim.measure import run_pim_tb

    f = load_pim_file(args.config)
    t0 = time.perf_counter()
    run = run_pim_tb(f.pim, f.verify, sim=args.sim, waves=args.waves)
    print(f"{'PASS' if run.passed else 'FAIL'} {f.pim.name} on {args.sim}: "
          f"{len(run.jobs)} jobs, {time.perf_counter() - t0:.1f} s")
    print(f"  formats built: weights {', '.join(f.pim.w_formats)} x activations "
          f"{', '.join(f.pim.a_formats)} ({len(f.pim.pairs)} pairs)")
    for j in run.jobs:
        print(f"  {j['mode']} x {j['a_fmt']} {j['tokens']}x{j['k']}x{j['n']}: "
              f"{j['cycles']} cycles ({j['ideal_cycles']} ideal), "
              f"{j['bytes_per_cycle']:.2f} B/cycle sustained (peak {run.peak_bytes_per_cycle}), "
              f"{j['mismatches']} mismatches")
    for failure in run.failures:
        print(f"  {failure}")
    for w in run.waveforms:
        print(f"  waveform: {w}")
    _write_json(args.json, run.to_dict())
    return 0 if run.passed else 1


def _synth_pim(args: argparse.Namespace) -> int:
    from mixforge.hw.pim.config import load_pim_file
    from mixforge.hw.pim.synth import synth_pim

    cfg = load_pim_file(args.config).pim
    st = synth_pim(cfg)
    print(f"{cfg.name}: {st['cells']} logic cells ({st['flip_flops']} flip-flops), "
          f"{st['cmos_transistors_incl_ff']} CMOS transistors incl. flip-flops; activation "
          f"buffer: {st['memories']} memory of {st['memory_bits']} bits (not in the cells), "
          f"multiplier: {'yes' if st['has_mul'] else 'no'}")
    _write_json(args.json, st)
    return 0


def register(subparsers: dict[str, Any]) -> None:
    """Add ``gen|verify|synth array`` and ``gen|verify|synth pim``."""
    for target, what, gen, verify, synth, example in (
            ("array", "systolic PE array (WS/OS)", _gen_array, _verify_array, _synth_array,
             "examples/array/"),
            ("pim", "logic-PIM GEMV unit (Duplex-style)", _gen_pim, _verify_pim, _synth_pim,
             "examples/pim/")):
        g = subparsers["gen"].add_parser(target, help=f"{what}: Verilog + JSON sidecar")
        g.add_argument("--config", required=True, help=f"YAML config ({example})")
        g.add_argument("--out", required=True, help="output folder")
        g.set_defaults(func=gen)
        v = subparsers["verify"].add_parser(target, help=f"{what}: cocotb, bit-exact + cycles")
        v.add_argument("--config", required=True, help=f"YAML config ({example})")
        v.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
        v.add_argument("--waves", action="store_true", help="dump a waveform")
        if target == "array":
            v.add_argument("--gemm", metavar="M,K,N", help="run this one GEMM instead of the "
                                                         "config's verify.shapes")
        v.add_argument("--json", metavar="OUT", help="write measured cycles / results as JSON")
        v.set_defaults(func=verify)
        s = subparsers["synth"].add_parser(target, help=f"{what}: Yosys cell counts")
        s.add_argument("--config", required=True, help=f"YAML config ({example})")
        s.add_argument("--json", metavar="OUT", help="write the figures as JSON")
        if target == "array":
            s.add_argument("--memories", choices=("keep", "ff"), default="keep",
                           help="memories (WS dequant accumulators): keep = Yosys $mem cells "
                                "(SRAM macros), memory_bits reported apart from the cells "
                                "(default); ff = map them to flip-flops, counted in the cells")
        s.set_defaults(func=synth)
