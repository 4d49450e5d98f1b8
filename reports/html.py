"""``mixforge report``: one self-contained HTML file, Markdown, CSV and PDF/SVG figures.

The HTML embeds every figure as a base64 PNG and its CSS inline: it loads nothing from the
network or the disk. The Markdown links the PNGs in ``figures/``; each sweep's points are also
in ``<sweep>.csv``. Every number names the model that produced it (the ``energy_model`` /
``area_model`` metrics) and what bounds it (``bound``).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from pathlib import Path
from typing import Any

import yaml

from mixforge.errors import ConfigError
from mixforge.reports.store import Store
from mixforge.reports.table import SweepView, compare_table, maximise, short_label

__all__ = ["write_report", "build_views"]

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid
#ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eee}figure{margin:1em 0}pre{background:#f7f7f7;
padding:.5em;font-size:12px;overflow-x:auto}.muted{color:#777}details{margin:.3em 0}"""


def build_views(store: Store, sweeps: list[str] | None = None) -> list[SweepView]:
    """One :class:`SweepView` per sweep in ``store`` (or the named ones)."""
    from mixforge.reports.points import get_kind

    have = store.sweeps()
    names = [s["name"] for s in have]
    for n in sweeps or []:
        if n not in names:
            raise ConfigError(f"no sweep {n!r} in the store (it has: {', '.join(names)})",
                              path="--sweep")
    views = []
    for s in have:
        if sweeps and s["name"] not in sweeps:
            continue
        try:
            primary = get_kind(s["kind"]).primary
        except ConfigError:
            primary = ("seconds", "energy_j")
        views.append(SweepView(s["name"], s["kind"], s["spec"], list(store.rows(s["name"])),
                               primary))
    return views


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _figures(view: SweepView, figdir: Path) -> list[tuple[str, str, dict[str, Path]]]:
    """(title, caption, paths) of every figure of ``view``."""
    from mixforge.reports import plots

    out = []
    objs = view.objectives()
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in view.name)

    def add(fig: Any, name: str, title: str, caption: str) -> None:
        if fig is not None:
            out.append((title, caption, plots.save(fig, figdir, f"{stem}-{name}")))

    for i, y in enumerate(objs[1:], 1):
        add(plots.fig_pareto(view, objs[0], y), f"pareto{i}", f"Pareto: {y} vs {objs[0]}",
            "Orange: the non-dominated feasible designs, labelled with their axis values; "
            "grey crosses: evaluated but infeasible (a constraint failed).")
    add(plots.fig_roofline(view), "roofline", "Roofline",
        "Each op of the evaluated points at its operational intensity (op per DRAM byte) and "
        "achieved rate; dashed: the roofs (peak op/s, DRAM bandwidth) of the best designs.")
    add(plots.fig_breakdown(view), "breakdown", "Time and energy breakdown",
        "Energy by component (action counts x energy table, or RTL-measured PE energy) and time "
        "by component of the best designs; the black tick is the simulated (overlapped) time.")
    add(plots.fig_sensitivity(view, objs[:2]), "sensitivity", "Sensitivity per axis",
        "For each numeric axis: the best and the median over the other axes.")
    for m in (view.spec.get("report") or {}).get("lines") or []:
        add(plots.fig_metric_lines(view, m), f"lines-{m}", f"{m} per axis value",
            "One line per combination of the other axes.")
    slo = (view.rows[0].config.get("slo") or {}) if view.rows else {}
    for m in ("goodput_requests_per_s", "goodput_share"):
        if any(m in r.metrics for r in view.rows):
            add(plots.fig_metric_lines(view, m), m, f"Goodput ({m})",
                f"Requests meeting both SLOs (TTFT <= {slo.get('ttft_s')} s, TBT <= "
                f"{slo.get('tbt_s')} s), per axis value.")
    return out


def _best_table(view: SweepView, top: int) -> tuple[list[str], list[list[str]], list[str]]:
    objs = list(view.objectives())
    extra = [m for m in ("bound", "unit", "energy_model", "area_model")
             if any(m in r.metrics for r in view.rows)]
    cols = [f for f in view.varying
            if not any(isinstance(r.axes.get(f), dict | list) for r in view.rows)]
    head = ["#", *[f.rsplit(".", 1)[-1] for f in cols], *objs, *extra]
    rows, yamls = [], []
    for r in view.best(top):
        rows.append([str(r.index), *[_fmt(r.axes.get(f)) for f in cols],
                     *[_fmt(r.metrics.get(m)) for m in objs], *[_fmt(r.metrics.get(m))
                                                                for m in extra]])
        yamls.append(yaml.safe_dump({"schema_version": 1, **r.config}, sort_keys=False,
                                    width=100))
    return head, rows, yamls


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(db: str | Path, out: str | Path, *, sweeps: list[str] | None = None,
                 top: int = 5) -> dict[str, Any]:
    """Write ``report.html``, ``report.md``, ``<sweep>.csv`` and ``figures/*`` into ``out``.

    Returns the written paths (``html``, ``md``, ``csv`` list, ``figures`` list).
    """
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    with Store(db, readonly=True) as store:
        views = build_views(store, sweeps)
    if not views:
        raise ConfigError("the store holds no sweep", file=str(db))
    h = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>mixforge report: "
         f"{html.escape(Path(db).name)}</title><style>{_CSS}</style></head><body>",
         f"<h1>mixforge sweep report</h1><p class='muted'>store {html.escape(str(db))}</p>"]
    md = [f"# mixforge sweep report\n\nstore `{db}`\n"]
    csvs: list[Path] = []
    figs: list[Path] = []
    for view in views:
        c = view.counts()
        counts = ", ".join(f"{v} {k}" for k, v in c.items() if v)
        desc = view.spec.get("description", "")
        h.append(f"<h2>{html.escape(view.name)}</h2><p>{html.escape(desc)}</p>"
                 f"<p>{len(view.rows)} {html.escape(view.kind)} points: {counts}. "
                 f"Axes: {html.escape(', '.join(view.varying) or '-')}.</p>")
        md.append(f"## {view.name}\n\n{desc}\n\n{len(view.rows)} {view.kind} points: {counts}. "
                  f"Axes: {', '.join(view.varying) or '-'}.\n")
        front = view.front()
        if front:
            objs = view.objectives()
            sense = ", ".join(f"{m} ({'max' if maximise(m) else 'min'})" for m in objs)
            h.append(f"<p>{len(front)} designs on the Pareto front of {html.escape(sense)}.</p>")
            md.append(f"{len(front)} designs on the Pareto front of {sense}.\n")
        for title, caption, paths in _figures(view, outdir / "figures"):
            data = base64.b64encode(paths["png"].read_bytes()).decode()
            h.append(f"<figure><img alt='{html.escape(title)}' src='data:image/png;base64,"
                     f"{data}'><figcaption>{html.escape(title)}: {html.escape(caption)} "
                     f"<span class='muted'>({paths['pdf'].name}, {paths['svg'].name})</span>"
                     "</figcaption></figure>")
            rel = paths["png"].relative_to(outdir)
            md.append(f"![{title}]({rel})\n\n*{title}*: {caption} (also `{paths['pdf'].name}`, "
                      f"`{paths['svg'].name}`)\n")
            figs.extend(paths.values())
        cmp = compare_table(view)
        if cmp is not None and cmp[1]:
            chead, crows, paper = cmp
            axis = view.spec["report"]["compare"]["axis"]
            base = view.spec["report"]["compare"]["baseline"]
            intro = (f"Gain over {axis} = {base} (above 1: better; time and energy as "
                     f"baseline / value, rates as value / baseline)."
                     + (f" Paper: {paper}." if paper else ""))
            h.append(f"<h3>Compared with {html.escape(str(base))}</h3><p>"
                     f"{html.escape(intro)}</p><table><tr>"
                     + "".join(f"<th>{html.escape(x)}</th>" for x in chead) + "</tr>")
            h.extend("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in row) + "</tr>"
                     for row in crows)
            h.append("</table>")
            md.append(f"### Compared with {base}\n\n{intro}\n\n| " + " | ".join(chead)
                      + " |\n|" + "---|" * len(chead) + "\n"
                      + "".join("| " + " | ".join(r) + " |\n" for r in crows))
        head, rows, yamls = _best_table(view, top)
        if rows:
            h.append("<h3>Best designs</h3><table><tr>" + "".join(
                f"<th>{html.escape(x)}</th>" for x in head) + "</tr>")
            h.extend("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in row) + "</tr>"
                     for row in rows)
            h.append("</table>")
            md.append("### Best designs\n\n| " + " | ".join(head) + " |\n|"
                      + "---|" * len(head) + "\n"
                      + "".join("| " + " | ".join(r) + " |\n" for r in rows))
            for row, text in zip(rows, yamls, strict=True):
                h.append(f"<details><summary>point #{row[0]}: full resolved config (YAML)"
                         f"</summary><pre>{html.escape(text)}</pre></details>")
                md.append(f"<details><summary>point #{row[0]}: full resolved config"
                          f"</summary>\n\n```yaml\n{text}```\n</details>\n")
        failed = [r for r in view.rows if r.status == "failed"]
        if failed:
            h.append(f"<h3>Failed points ({len(failed)})</h3><table><tr><th>#</th>"
                     "<th class='l'>axes</th><th class='l'>error</th></tr>")
            md.append(f"### Failed points ({len(failed)})\n")
            for r in failed[:50]:
                lab = short_label(r.axes, view.varying)
                h.append(f"<tr><td>{r.index}</td><td class='l'>{html.escape(lab)}</td>"
                         f"<td class='l'>{html.escape(r.error or '')}</td></tr>")
                md.append(f"- #{r.index} {lab}: {r.error}")
            h.append("</table>")
            md.append("")
        recs = view.records()
        stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in view.name)
        path = outdir / f"{stem}.csv"
        buf = io.StringIO()
        if recs:
            w = csv.DictWriter(buf, fieldnames=list(recs[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(recs)
        _write_atomic(path, buf.getvalue())
        csvs.append(path)
        h.append(f"<p class='muted'>All points: {html.escape(path.name)}</p>")
    h.append("</body></html>")
    _write_atomic(outdir / "report.html", "\n".join(h))
    _write_atomic(outdir / "report.md", "\n".join(md) + "\n")
    return {"html": outdir / "report.html", "md": outdir / "report.md", "csv": csvs,
            "figures": figs}
