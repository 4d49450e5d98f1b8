"""Text and Markdown tables of a :class:`~mixforge.sim.validate.ValidationReport`."""

from __future__ import annotations

from mixforge.sim.validate import ValidationReport, ValidationRow

__all__ = ["render", "render_markdown"]


def _fmt(v: float) -> str:
    return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"


def render(report: ValidationReport) -> str:
    """The report as a plain-text table (one row per entry) plus the summary lines."""
    head = ("id", "device", "metric", "measured", "predicted", "error", "tol", "bound", "")
    rows = [head]
    for r in report.rows:
        m = r.measurement
        verdict = _verdict(r, "MISS")
        rows.append((m.id, report.devices.get(m.device, m.device), f"{m.metric} [{m.unit}]",
                     _fmt(m.measured), _fmt(r.predicted), f"{r.error:+.1%}",
                     f"{m.tolerance:.0%}", r.bound, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i < 3 or i > 6 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    gated = report.gated
    misses = [r.measurement.id for r in gated if not r.within]
    lines.append("")
    lines.append(f"{len(gated)} gated entries ({len(report.rows) - len(gated)} not gated): "
                 f"mean |error| {report.mae:.1%}, max |error| {report.max_abs_error:.1%}")
    lines.append("PASS: every gated entry within its tolerance" if not misses else
                 f"FAIL: {len(misses)} outside tolerance: {', '.join(misses)}")
    return "\n".join(lines)


def _verdict(r: ValidationRow, miss: str) -> str:
    return ("ok" if r.within else miss) if r.measurement.gate else "not gated"


def render_markdown(report: ValidationReport) -> str:
    """The report as a Markdown table (for BENCHMARKS.md) plus the summary line."""
    lines = ["| id | device | metric | measured | predicted | error | tol | bound | verdict |",
             "|---|---|---|--:|--:|--:|--:|---|---|"]
    for r in report.rows:
        m = r.measurement
        lines.append(f"| {m.id} | {report.devices.get(m.device, m.device)} | {m.metric} "
                     f"[{m.unit}] | {_fmt(m.measured)} | {_fmt(r.predicted)} | {r.error:+.1%} "
                     f"| {m.tolerance:.0%} | {r.bound} | {_verdict(r, '**miss**')} |")
    lines.append("")
    lines.append(f"Gated entries: {len(report.gated)}; mean |error| {report.mae:.1%}, max "
                 f"|error| {report.max_abs_error:.1%}; {'PASS' if report.ok else 'FAIL'}.")
    return "\n".join(lines)
