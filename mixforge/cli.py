"""The ``mixforge`` command: one entry point, subcommands registered by each package.

Library code raises typed errors; only :func:`main` turns them into one-line messages and exit
codes: 0 success, 1 a check failed (e.g. RTL mismatches), 2 bad input or a missing tool.
Packages add their sub-subcommands through a ``register(subparsers)`` function in one of the
modules of :data:`REGISTRARS`; ``subparsers`` maps each top-level command (``gen``, ``verify``,
``synth``, ``sim``, ``sweep``, ``report``, ``zoo``) to its argparse sub-parser action.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from mixforge import __version__
from mixforge.errors import MixforgeError

__all__ = ["main", "main_entry", "build_parser", "REGISTRARS"]

#: Modules whose ``register(subparsers)`` adds subcommands (imported lazily, cheap to import).
REGISTRARS = (
    "mixforge.hw.primitives.cli",
    "mixforge.hw.pe.cli",
    "mixforge.hw.array.cli",
    "mixforge.sim.cli",
    "mixforge.workloads.cli",
    "mixforge.workloads.serving.cli",
    "mixforge.reports.cli",
)

COMMANDS = {
    "gen": "generate Verilog (+ JSON sidecar) for a PE, PE array or logic-PIM unit",
    "verify": "check generated RTL bit-for-bit against the reference models (cocotb)",
    "synth": "area / Fmax figures from Yosys (and nextpnr for ECP5)",
    "sim": "cycle-level simulation of operators and models on an accelerator",
    "sweep": "design-space sweeps with a resumable result store",
    "report": "plots and HTML reports from sweep results",
    "zoo": "list and inspect the shipped LLM / MoE model descriptions",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors, and values such as ``-64,4096,4096`` read as values
    (so the command's own check can say what is wrong with them) rather than as unknown flags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-[0-9.][0-9.,_eE+-]*$")

    def error(self, message: str) -> Any:  # noqa: D102 (argparse's hook)
        print(f"mixforge: error: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)


#: Commands that run external tools: their MIXFORGE_* settings are checked before they start.
_TOOL_COMMANDS = ("gen", "verify", "synth", "doctor")

#: Output arguments every command checks before it starts (dest -> flag): a file path.
_FILE_ARGS = {"json": "--json", "csv": "--csv", "trace_out": "--trace-out"}


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail at once (one line, exit 2) on output paths that cannot be written."""
    from mixforge.outputs import check_dir, check_file

    for dest, flag in _FILE_ARGS.items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and value:
            check_file(value, flag)
    if args.command == "gen" and isinstance(getattr(args, "out", None), str):
        check_dir(args.out, "--out", create=False)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mixforge",
        description="Mixed-precision LLM/MoE accelerator toolkit: bit-exact models, Amaranth "
                    "RTL, cocotb verification, cycle-level simulation, sweeps and reports.")
    parser.add_argument("--version", action="version", version=f"mixforge {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks instead of one-line errors")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache folder for Verilator builds (default: $MIXFORGE_CACHE_DIR "
                             "or ~/.cache/mixforge)")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")

    doctor = top.add_parser("doctor", help="check the tool chain and say how to fix what is "
                                           "missing")
    doctor.add_argument("--json", metavar="OUT", help="also write the findings as JSON")
    doctor.set_defaults(func=_cmd_doctor)

    formats = top.add_parser("formats", help="list the number formats: bits, range, special "
                                             "values, aliases (from the reference models)")
    formats.add_argument("--json", metavar="OUT", help="also write the list as JSON")
    formats.set_defaults(func=_cmd_formats)

    subparsers: dict[str, Any] = {}
    for name, helptext in COMMANDS.items():
        p = top.add_parser(name, help=helptext, description=helptext)
        p.set_defaults(func=_needs_target(p))
        subparsers[name] = p.add_subparsers(dest="target", metavar="TARGET")
    for modname in REGISTRARS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name is not None and modname.startswith(exc.name):
                continue  # that package has no CLI (yet)
            raise
        mod.register(subparsers)
    for name, action in subparsers.items():
        if not action.choices:
            parent = top.choices[name]
            parent.description = f"{COMMANDS[name]} (no targets in this release)"
    return parser


def _needs_target(p: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    return run


def _cmd_doctor(args: argparse.Namespace) -> int:
    from mixforge.doctor import check_all, render

    findings = check_all()
    print(render(findings))
    if args.json:
        import json

        from mixforge.outputs import write_text

        out = write_text(args.json, json.dumps([f.as_dict() for f in findings], indent=2)
                         + "\n", "--json")
        print(f"wrote {out}")
    return 0 if all(f.ok or not f.required for f in findings) else 1


def _cmd_formats(args: argparse.Namespace) -> int:
    from mixforge.formatinfo import all_formats, render_formats

    infos = all_formats()
    print(render_formats(infos))
    if args.json:
        import json

        from mixforge.outputs import write_text

        out = write_text(args.json, json.dumps([f.as_dict() for f in infos], indent=2) + "\n",
                         "--json")
        print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv``; return the exit code (never raises for bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        for modname in REGISTRARS:  # short forms, e.g. `mixforge sweep SPEC` = `sweep run SPEC`
            mod = sys.modules.get(modname)
            if mod is not None and hasattr(mod, "shorthand"):
                argv = mod.shorthand(argv)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.cache_dir:
            from mixforge.outputs import check_dir

            cache = check_dir(args.cache_dir, "--cache-dir")
            os.environ["MIXFORGE_CACHE_DIR"] = str(cache.resolve())
        _check_outputs(args)
        if args.command in _TOOL_COMMANDS:
            from mixforge.toolchain import check_environment

            check_environment()
        return int(args.func(args))
    except MixforgeError as exc:
        if debug:
            raise
        print(f"mixforge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mixforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mixforge ... | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
