"""``mixforge sim op``: simulate one operator on a hardware YAML, print a breakdown, write JSON.

Only argparse wiring is imported at module import time; the simulator loads in the handler.
"""

from __future__ import annotations

import argparse
from typing import Any, cast

__all__ = ["register", "cmd_op", "cmd_validate"]


def register(subparsers: dict[str, Any]) -> None:
    """Add ``op`` under the ``mixforge sim`` command."""
    p = subparsers["sim"].add_parser(
        "op", help="simulate one GEMM on a hardware description",
        description="Simulate one GEMM M x K x N on the device described by --hw and print "
                    "where the time and energy go.")
    p.add_argument("--hw", required=True, metavar="YAML", help="hardware description")
    p.add_argument("--gemm", required=True, metavar="M,K,N", help="GEMM shape, e.g. 512,1024,1024")
    p.add_argument("--formats", default=None, metavar="w=FMT,a=FMT",
                   help="operand formats (w=int4,a=int8, or w4,a8 / w4,a16 = FP16 activations); "
                        "default: the PE's first mode")
    p.add_argument("--batch", type=int, default=1, help="independent GEMMs (own weights each)")
    p.add_argument("--group-size", type=int, default=0, help="weight quantization group along K")
    p.add_argument("--dispatch", choices=("best", "threshold", "xpu", "pim"), default=None,
                   help="where the op runs on a device with PIM: best (default: simulate xPU "
                        "and PIM, keep the faster), threshold (Duplex: PIM below the device's "
                        "pim.opb_threshold FLOP/B), xpu or pim (forced)")
    p.add_argument("--unit", choices=("xpu", "pim"), default=None,
                   help="same as --dispatch xpu|pim (kept for old scripts)")
    p.add_argument("--pe-rtl", metavar="JSON", default=None,
                   help="per-PE energy/area from `mixforge synth pe --json` (overrides the "
                        "YAML's xpu.pe.rtl)")
    p.add_argument("--iso-area", metavar="YAML", default=None,
                   help="also run the op on this second device with its array sized to the "
                        "first device's PE-array area (both PEs' synthesized areas); "
                        "report both")
    p.add_argument("--json", metavar="OUT", help="write the result as JSON")
    p.set_defaults(func=cmd_op)

    v = subparsers["sim"].add_parser(
        "validate", help="compare the simulator with published measurements on real hardware",
        description="Simulate every entry of a measurement file (published GEMM, bandwidth and "
                    "LLM decode measurements on A100/H100/A10) on its device file; print "
                    "predicted vs measured and the error of each. Exit code 1 when any gated "
                    "entry misses its stored tolerance.")
    v.add_argument("--data", metavar="YAML", default=None,
                   help="measurement file (default: examples/validation/measurements.yaml)")
    v.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    v.add_argument("--markdown", metavar="OUT", help="also write the table as Markdown")
    v.set_defaults(func=cmd_validate)


def _parse_gemm(text: str) -> tuple[int, int, int]:
    from mixforge.errors import ConfigError

    try:
        m, k, n = (int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"must be three integers M,K,N, not {text!r}", path="--gemm") from None
    for dim, v in zip("MKN", (m, k, n), strict=True):
        if v <= 0:
            raise ConfigError(f"{dim} must be positive, not {v}", path="--gemm")
        if v > MAX_DIM:
            raise ConfigError(f"{dim} = {v} is beyond the simulator's limit of 2^62",
                              path="--gemm")
    return m, k, n


#: Largest GEMM dimension ``sim op`` accepts (products of two stay within 2^124, and every
#: count the simulator keeps fits a Python int; NumPy paths are bounded separately).
MAX_DIM = 1 << 62


def _parse_formats(text: str | None, default: tuple[str, str]) -> tuple[str, str]:
    from mixforge.errors import ConfigError

    w, a = default
    if not text:
        return w, a
    for item in text.split(","):
        item = item.strip()
        if "=" in item:
            key, val = item.split("=", 1)
        elif item[:1] in ("w", "a") and item[1:].isdigit():
            # W4A8 shorthand: integers, except 16 bits, which means FP16 (W4A16 convention)
            key, val = item[0], "float16" if item[1:] == "16" else f"int{item[1:]}"
        else:
            raise ConfigError(f"expected w=FMT or a=FMT, not {item!r}", path="--formats")
        if key.strip() == "w":
            w = val.strip()
        elif key.strip() == "a":
            a = val.strip()
        else:
            raise ConfigError(f"unknown operand {key!r} (use w or a)", path="--formats")
    from mixforge.errors import FormatError
    from mixforge.models.formats import get_format

    try:  # canonical names (aliases such as fp16 or e4m3 accepted)
        w, a = get_format(w).name, get_format(a).name
    except FormatError as exc:
        raise ConfigError(str(exc), path="--formats") from None
    return w, a


def _power_rows(arch: Any, res: Any) -> list[tuple[str, str]]:
    """Average power (node-scaled energy), the clock the op ran at, and the DRAM model."""
    from mixforge.sim.engine.dram import DRAM_MODEL
    from mixforge.sim.engine.dvfs import DVFS_LAW
    from mixforge.sim.engine.overhead import OVERHEAD_MODEL

    rows = [("power", f"{res.power_w:,.1f} W average (energy tables at "
                      f"{arch.energy.node_nm:g} nm)")]
    if res.clock_hz:
        lim = arch.xpu.power_limit_w
        why = (f"power-limited: sustained clock under {lim:g} W ({DVFS_LAW})"
               if res.power_limited else "boost clock" + (f", within {lim:g} W" if lim else ""))
        rows.append(("clock", f"{res.clock_hz / 1e9:.3f} GHz, {why}"))
    if res.overhead_s:
        rows.append(("overhead", f"{res.overhead_s * 1e6:.2f} us included ({OVERHEAD_MODEL})"))
    rows.append(("DRAM model", DRAM_MODEL))
    return rows


def cmd_op(args: argparse.Namespace) -> int:
    """Handler of ``mixforge sim op``; library errors propagate to ``cli.main`` (exit 2)."""
    import json

    from mixforge.errors import ConfigError
    from mixforge.outputs import write_text
    from mixforge.sim.arch import load_arch
    from mixforge.sim.arch.refs import provenance
    from mixforge.sim.cost.rtl import pe_area, with_pe_rtl
    from mixforge.sim.engine.simulator import Dispatch, Simulator
    from mixforge.sim.mapping.ops import Gemm

    m, k, n = _parse_gemm(args.gemm)
    if args.batch < 1:
        raise ConfigError(f"must be >= 1, not {args.batch}", path="--batch")
    if args.group_size < 0:
        raise ConfigError(f"must be >= 0 (0: no groups), not {args.group_size}",
                          path="--group-size")
    arch = load_arch(args.hw)
    if args.pe_rtl:
        arch = with_pe_rtl(arch, args.pe_rtl)
    first = arch.xpu.pe.modes[0]
    w, a = _parse_formats(args.formats, (first.w, first.a))
    op = Gemm(m=m, k=k, n=n, batch=args.batch, w=w, a=a, group_size=args.group_size,
              shared_b=args.batch == 1, name=f"gemm {m}x{k}x{n}")
    if args.unit and args.dispatch and args.unit != args.dispatch:
        raise ConfigError(f"--unit {args.unit} contradicts --dispatch {args.dispatch}",
                          path="--unit")
    policy = args.unit or args.dispatch or "best"
    if policy == "pim" and arch.pim is None:
        raise ConfigError(f"{args.hw} has no PIM (no pim: section) to force onto",
                          path="--unit" if args.unit else "--dispatch")
    if args.iso_area:
        return _cmd_iso_area(args, arch, op)
    sim = Simulator(arch, dispatch=cast(Dispatch, policy))
    # forcing the PIM must fail loudly when the PIM lacks the op's formats
    res = sim.run_op(op, "pim" if policy == "pim" else None)
    out = res.as_dict()
    out["hw"] = arch.name
    area = pe_area(arch)
    out["pe_rtl"] = area
    out["provenance"] = provenance(arch, res.unit, op.w, op.a)
    print(f"{op.name} on {arch.name} ({res.unit}), w={op.w} a={op.a}")
    rows = [("dispatch", res.dispatch), ("cycles", f"{res.cycles:,}"),
            ("time", f"{res.seconds * 1e6:,.3f} us"),
            ("roofline", f"{res.roofline_seconds * 1e6:,.3f} us "
                         f"({res.roofline_seconds / res.seconds:.1%} of simulated)"),
            ("bound", res.bound), ("utilisation", f"{res.utilisation:.1%}"),
            ("compute alone", f"{res.compute_seconds * 1e6:,.3f} us"),
            ("memory alone", f"{res.memory_seconds * 1e6:,.3f} us"),
            ("DRAM traffic", f"{res.dram_bytes:,} B"),
            ("tiles", f"{res.tiles:,}" if res.tiles or res.unit != "pim" else
             "0 (the logic-PIM streams the weights from its bank bundle; no xPU array tiles)")]
    if res.mapping is not None:
        mp = res.mapping
        rows.append(("mapping", f"tile {mp.tm}x{mp.tk}x{mp.tn}, order {mp.order}, "
                                f"double buffer {mp.double_buffer}"))
        if mp.l2_bm:
            rows.append(("L2 blocks", f"{mp.l2_bm}x{k}x{mp.l2_bn}, "
                                      f"order {mp.l2_order}"))
    rows.append(("energy", f"{res.energy_j * 1e6:,.3f} uJ"))
    why_zero = {"static_j": "the device YAML sets no static power (xpu.static_w, pim.static_w)",
                "sram_j": "the logic-PIM reads DRAM directly; no xPU SRAM is used",
                "vector_j": "no vector (softmax/norm/activation) work in this op"}
    for comp, joules in res.energy.as_dict().items():
        share = joules / res.energy_j if res.energy_j else 0.0
        note = f"  ({why_zero[comp]})" if joules == 0 and comp in why_zero else ""
        rows.append((f"  {comp[:-2]}", f"{joules * 1e6:,.3f} uJ ({share:.1%}){note}"))
    rows += _power_rows(arch, res)
    if area is not None:
        rows.append(("PE (RTL)", f"{area['pe']}: {area['transistors_per_pe']:,} transistors "
                                 f"({area['core_transistors_per_pe']:,} core), "
                                 f"{area['e_mac_pj']:.3f} pJ/MAC"))
        rows.append(("PE arrays", f"{area['array_transistors']:,} transistors, "
                                  f"{area['static_w'] * 1e3:,.2f} mW static"))
    rows.append(("timing from", out["provenance"]["timing"]))
    rows.append(("energy from", out["provenance"]["energy"]))
    rows.append(("sim wall", f"{res.sim_wall_s * 1e3:.2f} ms"))
    width = max(len(r[0]) for r in rows)
    for key, val in rows:
        print(f"  {key:<{width}}  {val}")
    if args.json:
        print(f"wrote {write_text(args.json, json.dumps(out, indent=2) + chr(10), '--json')}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Handler of ``mixforge sim validate``: 0 when every gated entry is within tolerance."""
    import json

    from mixforge.outputs import write_text
    from mixforge.sim.validate import DEFAULT_DATA, validate
    from mixforge.sim.validate_report import render, render_markdown

    report = validate(args.data or DEFAULT_DATA)
    print(render(report))
    outputs = [(args.json, json.dumps(report.as_dict(), indent=2)),
               (args.markdown, render_markdown(report))]
    for (where, text), flag in zip(outputs, ("--json", "--markdown"), strict=True):
        if where:
            print(f"wrote {write_text(where, text + chr(10), flag)}")
    return 0 if report.ok else 1


def _cmd_iso_area(args: argparse.Namespace, arch: Any, op: Any) -> int:
    """``sim op --iso-area B``: size B's array to ``arch``'s PE-array area, run both."""
    import json

    from mixforge.errors import ConfigError
    from mixforge.outputs import write_text
    from mixforge.sim.arch import load_arch
    from mixforge.sim.arch.isoarea import area_of, size_to_area
    from mixforge.sim.arch.refs import provenance
    from mixforge.sim.engine.simulator import Dispatch, Simulator

    try:
        budget = area_of(arch)
    except ConfigError as exc:
        raise ConfigError(f"{arch.name}: {exc.detail}", path="--hw") from None
    other = load_arch(args.iso_area)
    try:
        other = size_to_area(other, budget, path="--iso-area")
    except ConfigError as exc:
        raise ConfigError(f"{other.name}: {exc.detail}", path="--iso-area") from None
    first = other.xpu.pe.modes[0]
    w, a = _parse_formats(args.formats, (first.w, first.a))
    out: dict[str, Any] = {"op": op.name, "area_transistors": budget, "devices": []}
    print(f"{op.name}: iso-area ({budget:,} transistors of PE arrays, synthesized PE areas)")
    for dev, fmt in ((arch, (op.w, op.a)), (other, (w, a))):
        from dataclasses import replace

        dop = replace(op, w=fmt[0], a=fmt[1])
        policy = cast(Dispatch, args.unit or args.dispatch or "best")
        res = Simulator(dev, dispatch=policy).run_op(dop, "pim" if policy == "pim" else None)
        d = res.as_dict()
        d.update(hw=dev.name, rows=dev.xpu.array.rows, cols=dev.xpu.array.cols,
                 cores=dev.xpu.cores, area_transistors=area_of(dev),
                 pe=dev.pe_rtl.name if dev.pe_rtl is not None else "",
                 provenance=provenance(dev, res.unit, dop.w, dop.a))
        out["devices"].append(d)
        print(f"  {dev.name}: {d['rows']}x{d['cols']} x {d['cores']} cores of {d['pe']} "
              f"({d['area_transistors']:,} transistors, "
              f"{d['area_transistors'] / budget:.1%}), w={dop.w} a={dop.a} on {res.unit}")
        print(f"    {res.cycles:,} cycles, {res.seconds * 1e6:,.3f} us, bound {res.bound}, "
              f"utilisation {res.utilisation:.1%}, energy {res.energy_j * 1e6:,.3f} uJ")
        print(f"    timing from {d['provenance']['timing']}")
        print(f"    energy from {d['provenance']['energy']}")
    ta, tb = (d["seconds"] for d in out["devices"])
    print(f"  {other.name} / {arch.name} time: {tb / ta:.3f}x")
    if args.json:
        print(f"wrote {write_text(args.json, json.dumps(out, indent=2) + chr(10), '--json')}")
    return 0
