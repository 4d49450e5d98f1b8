"""``mixforge sweep run|points`` and ``mixforge report html``: registered by ``mixforge.cli``.

``mixforge sweep SPEC --db results.db`` is the short form of ``mixforge sweep run``, and
``mixforge report results.db -o report/`` of ``mixforge report html`` (see
:func:`shorthand`). Only argparse wiring is imported at module import time.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

__all__ = ["register", "cmd_sweep", "cmd_report", "shorthand"]


def register(subparsers: dict[str, Any]) -> None:
    """Add ``run`` under ``mixforge sweep`` and ``html`` under ``mixforge report``."""
    p = subparsers["sweep"].add_parser(
        "run", help="run a sweep spec into a result store (resumable)",
        description="Evaluate every point of a sweep spec that the store does not hold yet. "
                    "Short form: mixforge sweep SPEC --db results.db")
    p.add_argument("spec", metavar="SPEC", help="sweep YAML (examples/sweeps/*.yaml)")
    p.add_argument("--db", default="results.db", help="SQLite result store (default: "
                                                      "results.db)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="local worker processes")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument("--dry-run", action="store_true", help="list the points, evaluate nothing")
    p.add_argument("--retry-failed", action="store_true", help="evaluate failed points again")
    p.add_argument("--limit", type=int, default=None, help="evaluate at most N new points")
    p.add_argument("--commit-every", type=float, default=1.0, metavar="SECONDS",
                   help="commit results at least this often (default 1 s; 0: after every "
                        "chunk); a killed sweep recomputes at most the uncommitted ones")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    r = subparsers["report"].add_parser(
        "html", help="HTML + Markdown + CSV report (and PDF/SVG figures) of a result store",
        description="Write report.html (self-contained), report.md, one CSV per sweep and "
                    "each figure as PNG/PDF/SVG. Short form: mixforge report results.db -o DIR")
    r.add_argument("db", metavar="DB", help="SQLite result store written by mixforge sweep")
    r.add_argument("-o", "--out", default="report", help="output folder (default: report/)")
    r.add_argument("--sweep", action="append", default=None,
                   help="only this sweep (repeatable; default: every sweep in the store)")
    r.add_argument("--top", type=int, default=5, help="best designs listed per sweep")
    r.set_defaults(func=cmd_report)


def shorthand(argv: list[str]) -> list[str]:
    """``sweep SPEC ...`` -> ``sweep run SPEC ...``; ``report DB ...`` -> ``report html DB``."""
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == "--cache-dir":
            skip = True
            continue
        if a in ("sweep", "report"):
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            sub = "run" if a == "sweep" else "html"
            if nxt and not nxt.startswith("-") and nxt not in ("run", "html"):
                return [*argv[:i + 1], sub, *argv[i + 1:]]
            return argv
        if not a.startswith("-"):
            return argv
    return argv


def _bar(prog: Any, final: bool = False) -> str:
    total = max(prog.total, 1)
    frac = prog.finished / total
    width = 24
    fill = int(frac * width)
    eta = prog.eta_s()
    eta_s = "--" if eta is None else time.strftime("%H:%M:%S", time.gmtime(eta))
    return (f"[{'#' * fill}{'.' * (width - fill)}] {prog.finished}/{prog.total} "
            f"done {prog.done} cached {prog.cached} failed {prog.failed} "
            f"infeasible {prog.infeasible} | {prog.rate_per_min():,.0f}/min ETA {eta_s}")


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handler of ``mixforge sweep run``."""
    from mixforge.reports.executors import make_executor
    from mixforge.reports.runner import run_sweep
    from mixforge.reports.spec import load_spec
    from mixforge.reports.store import Store

    spec = load_spec(args.spec)
    if args.dry_run:
        return _dry_run(spec, args.db)
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address)
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(prog: Any) -> None:
        now = time.perf_counter()
        if args.quiet or (not tty and now - last[0] < 5 and prog.finished < prog.total):
            return
        last[0] = now
        print(("\r" if tty else "") + _bar(prog), end="" if tty else "\n", file=sys.stderr,
              flush=True)

    with Store(args.db) as store:
        print(f"sweep {spec.name}: {spec.kind.name} points on {executor.name} -> {args.db}")
        prog = run_sweep(spec, store, executor, retry_failed=args.retry_failed,
                         on_progress=show, limit=args.limit,
                         commit_every_s=args.commit_every)
    if tty and not args.quiet:
        print(file=sys.stderr)
    wall = time.perf_counter() - prog.started
    pending = prog.total - prog.finished
    print(f"sweep {spec.name}: {prog.total} points: {prog.done} computed, {prog.cached} "
          f"cached, {prog.failed} failed, {prog.infeasible} infeasible"
          + (f", {pending} pending" if pending else "")
          + f" in {wall:.1f} s ({prog.rate_per_min():,.0f} points/min); wrote {args.db}")
    if prog.failed:
        print(f"  failed points keep their error: mixforge report {args.db} -o report/ lists "
              "them; --retry-failed evaluates them again")
    return 0


def _dry_run(spec: Any, db: str) -> int:
    from pathlib import Path

    from mixforge.reports.store import Store

    points = spec.points()
    stored: dict[str, Any] = {}
    if Path(db).is_file():
        with Store(db, readonly=True) as st:
            stored = st.stored(p.key for p in points)
    fields = [f for a in spec.axes for f in a.fields]
    print(f"sweep {spec.name}: {len(points)} {spec.kind.name} points "
          f"(grid {spec.grid_size()}, sample {spec.sample.get('method', 'grid')})")
    print("  #     key           status      " + "  ".join(fields))
    for p in points:
        status = stored[p.key][0] if p.key in stored else "todo"
        if p.infeasible:
            status = "infeasible"
        vals = "  ".join(str(p.axes.get(f)) for f in fields)
        note = f"  ({p.infeasible})" if p.infeasible else ""
        print(f"  {p.index:<5} {p.key[:12]}  {status:<10}  {vals}{note}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Handler of ``mixforge report html``."""
    from mixforge.reports.html import write_report

    files = write_report(args.db, args.out, sweeps=args.sweep, top=args.top)
    print(f"wrote {files['html']} (self-contained), {files['md']}, "
          f"{len(files['csv'])} CSV and {len(files['figures'])} figures (PNG/PDF/SVG) in "
          f"{args.out}")
    return 0
