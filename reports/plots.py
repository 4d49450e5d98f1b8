"""The report's figures, in one matplotlib style readable at a paper's column width (3.4 in).

Each ``fig_*`` function returns a matplotlib Figure (or ``None`` when the sweep has nothing to
show for it); :func:`save` writes it as PNG (embedded in the HTML), PDF and SVG.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
from cycler import cycler

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mixforge.reports.table import SweepView, maximise, short_label  # noqa: E402

__all__ = ["STYLE", "fig_pareto", "fig_roofline", "fig_breakdown", "fig_sensitivity",
           "fig_metric_lines", "save", "UNITS"]

#: The one style of every figure: single column (3.4 in), 8 pt text, colour-blind-safe cycle.
STYLE: dict[str, Any] = {
    "figure.figsize": (3.4, 2.5), "figure.dpi": 100, "savefig.dpi": 200, "font.size": 8,
    "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 6.5, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "lines.markersize": 4, "axes.grid": True, "grid.alpha": 0.3,
    "grid.linewidth": 0.5, "axes.spines.top": False, "axes.spines.right": False,
    "savefig.bbox": "tight", "pdf.fonttype": 42, "svg.fonttype": "none",
    "axes.prop_cycle": cycler(color=["#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                "#E69F00", "#56B4E9", "#F0E442", "#000000"]),
}

#: Axis labels of known metrics.
UNITS = {"seconds": "latency (s)", "energy_j": "energy (J)", "array_transistors":
         "PE-array area (transistors)", "ops_per_s": "throughput (op/s)", "utilisation":
         "utilisation", "cmos_transistors_incl_ff": "area (transistors incl. FF)",
         "tokens_per_s": "tokens/s", "energy_per_token_j": "energy per token (J)"}


def _style() -> Any:
    return plt.rc_context(STYLE)  # type: ignore[arg-type]  # matplotlib types keys as Literal


def _label(m: str) -> str:
    return UNITS.get(m, m.replace("_", " "))


def _fig(w: float = 3.4, h: float = 2.5, ncols: int = 1, nrows: int = 1) -> tuple[Figure, Any]:
    with _style():
        fig, ax = plt.subplots(nrows, ncols, figsize=(w, h), squeeze=False)
    return fig, ax


def fig_pareto(view: SweepView, x: str, y: str) -> Figure | None:
    """``y`` vs ``x`` for every evaluated point; the Pareto front joined and labelled with its
    axis values; infeasible points as grey crosses (their own legend entry)."""
    ok = [r for r in view.scored() if _pos(r.metrics.get(x)) and _pos(r.metrics.get(y))]
    bad = [r for r in view.rows if r.status == "infeasible"
           and _pos(r.metrics.get(x)) and _pos(r.metrics.get(y))]
    if not ok and not bad:
        return None
    with _style():
        fig, axs = _fig(3.4, 2.7)
        ax = axs[0][0]
        ax.scatter([r.metrics[x] for r in ok], [r.metrics[y] for r in ok], s=10,
                   color="#0072B2", alpha=0.45, label=f"feasible ({len(ok)})", linewidths=0)
        if bad:
            ax.scatter([r.metrics[x] for r in bad], [r.metrics[y] for r in bad], s=12,
                       marker="x", color="#999999", linewidths=0.7,
                       label=f"infeasible ({len(bad)})")
        front = sorted(view.front((x, y)), key=lambda r: float(r.metrics[x]))
        if front:
            ax.plot([r.metrics[x] for r in front], [r.metrics[y] for r in front], "-o",
                    color="#D55E00", ms=3.5, lw=1, label=f"Pareto front ({len(front)})")
            step = max(1, math.ceil(len(front) / 6))
            # label with the axes that differ along the front (short labels stay readable)
            differ = [f for f in view.varying if len({repr(r.axes.get(f)) for r in front}) > 1]
            for i, r in enumerate(front[::step]):
                ax.annotate(short_label(r.axes, differ or view.varying),
                            (r.metrics[x], r.metrics[y]),
                            xytext=(4, 4 + 7 * (i % 2)), textcoords="offset points",
                            fontsize=5.5, color="#D55E00")
        _log(ax, [r.metrics[x] for r in ok + bad], "x")
        _log(ax, [r.metrics[y] for r in ok + bad], "y")
        ax.set_xlabel(_label(x) + (" (higher is better)" if maximise(x) else ""))
        ax.set_ylabel(_label(y) + (" (higher is better)" if maximise(y) else ""))
        ax.set_title(f"{view.name}: {_label(y)} vs {_label(x)}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    return fig


def fig_roofline(view: SweepView, max_roofs: int = 4) -> Figure | None:
    """Every op of the evaluated points at (operational intensity, achieved op/s), coloured by
    op class, under the roofs (peak op/s, DRAM bandwidth) of up to ``max_roofs`` devices."""
    ops: dict[str, list[tuple[float, float]]] = defaultdict(list)
    roofs: dict[tuple[float, float], str] = {}
    for r in view.best(max_roofs) + view.scored():
        for op in r.detail.get("ops", []):
            if op.get("bytes") and op.get("seconds") and op.get("ops"):
                ops[str(op.get("cls", "op"))].append((op["ops"] / op["bytes"],
                                                      op["ops"] / op["seconds"]))
        for unit, roof in r.detail.get("roof", {}).items():
            key = (float(roof["peak_ops_per_s"]), float(roof["bw_bytes_per_s"]))
            if key not in roofs and len(roofs) < max_roofs and key[0] > 0 and key[1] > 0:
                hw = [f for f in view.varying if not f.startswith("op.")]
                roofs[key] = f"{unit} {short_label(r.axes, hw)}".strip()
    if not ops:
        return None
    with _style():
        fig, axs = _fig(3.4, 2.7)
        ax = axs[0][0]
        xs = [p[0] for pts in ops.values() for p in pts]
        lo, hi = min(xs) / 2, max(xs) * 2
        for peak, bw in roofs:
            lo, hi = min(lo, peak / bw / 4), max(hi, peak / bw * 4)
        grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        for (peak, bw), name in roofs.items():
            ax.plot(grid, [min(peak, bw * g) for g in grid], lw=0.9, ls="--", label=name)
        for cls, pts in sorted(ops.items()):
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=8, alpha=0.6,
                       linewidths=0, label=cls)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("operational intensity (op / DRAM byte)")
        ax.set_ylabel("achieved (op/s)")
        ax.set_title(f"{view.name}: roofline")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return fig


def fig_breakdown(view: SweepView, n: int = 6) -> Figure | None:
    """Energy by component and time by component (stacked) of the ``n`` best designs, plus
    energy by op class when the points hold several classes."""
    best = [r for r in view.best(n) if r.detail.get("energy_j")]
    if not best:
        return None
    by_class = any(len({o.get("cls") for o in r.detail.get("ops", [])}) > 1 for r in best)
    panels = [("energy_j", "energy (J)"), ("time_s", "time (s)")]
    panels = [p for p in panels if any(r.detail.get(p[0]) for r in best)]
    if by_class:
        panels.append(("classes", "energy by op class (J)"))
    with _style():
        fig, axs = _fig(3.4, 1.6 * len(panels) + 0.4, nrows=len(panels))
        labels = [f"#{r.index}" for r in best]
        for ax, (what, title) in zip((a[0] for a in axs), panels, strict=True):
            parts: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(best))
            for i, r in enumerate(best):
                if what == "classes":
                    for o in r.detail.get("ops", []):
                        parts[str(o.get("cls"))][i] += float(o.get("energy_j") or 0)
                else:
                    for comp, v in r.detail.get(what, {}).items():
                        if comp != "simulated":
                            parts[comp.removesuffix("_j")][i] = float(v or 0)
            bottom = [0.0] * len(best)
            for comp, vals in parts.items():
                if any(vals):
                    ax.bar(labels, vals, bottom=bottom, label=comp, width=0.6)
                    bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
            if what == "time_s" and all("simulated" in r.detail["time_s"] for r in best):
                sim = [float(r.detail["time_s"]["simulated"]) for r in best]
                ax.scatter(labels, sim, marker="_", s=120, color="black", zorder=3,
                           label="simulated (overlapped)")
            ax.set_ylabel(title)
            ax.legend(fontsize=5.5, frameon=False, ncol=3, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0))
        axs[0][0].set_title(f"{view.name}: breakdown of the best designs (# = point index)")
    return fig


def fig_sensitivity(view: SweepView, metrics: Sequence[str]) -> Figure | None:
    """Per varying axis: the best and the median of each metric over the other axes, against
    that axis's values (one panel per axis)."""
    axes = [f for f in view.varying if _sortable(view, f)][:6]
    ok = view.scored()
    metrics = [m for m in metrics if any(_pos(r.metrics.get(m)) for r in ok)][:2]
    if not axes or not ok or not metrics:
        return None
    cols = min(2, len(axes))
    rows = math.ceil(len(axes) / cols)
    with _style():
        fig, axs = _fig(3.4 if cols == 1 else 6.8, 1.9 * rows + 0.3, ncols=cols, nrows=rows)
        for k, f in enumerate(axes):
            ax = axs[k // cols][k % cols]
            for j, m in enumerate(metrics):
                groups: dict[Any, list[float]] = defaultdict(list)
                for r in ok:
                    if _pos(r.metrics.get(m)):
                        groups[r.axes.get(f)].append(float(r.metrics[m]))
                xs = sorted(groups)
                best = [max(groups[x]) if maximise(m) else min(groups[x]) for x in xs]
                med = [sorted(groups[x])[len(groups[x]) // 2] for x in xs]
                tgt = ax if j == 0 else ax.twinx()
                color = STYLE["axes.prop_cycle"].by_key()["color"][j]
                tgt.plot(xs, best, "-o", color=color, ms=3, label=f"{m} best")
                tgt.plot(xs, med, ":", color=color, label=f"{m} median")
                tgt.set_ylabel(_label(m), color=color)
                _log(tgt, best + med, "y")
            _log(ax, [float(x) for x in groups], "x")
            ax.set_xlabel(f)
        for k in range(len(axes), rows * cols):
            axs[k // cols][k % cols].set_visible(False)
        fig.suptitle(f"{view.name}: sensitivity per axis (solid: best, dotted: median)",
                     fontsize=8)
        fig.tight_layout()
    return fig


def fig_metric_lines(view: SweepView, metric: str) -> Figure | None:
    """``metric`` (e.g. goodput at the SLOs) against the first numeric axis, one line per
    combination of the other varying axes."""
    ok = [r for r in view.rows if r.status in ("ok", "infeasible")
          and isinstance(r.metrics.get(metric), int | float)]
    numeric = [f for f in view.varying if _sortable(view, f)]
    if not ok or not numeric:
        return None
    x = numeric[0]
    rest = [f for f in view.varying if f != x]
    lines: dict[str, dict[Any, float]] = defaultdict(dict)
    for r in ok:
        lines[short_label(r.axes, rest)][r.axes.get(x)] = float(r.metrics[metric])
    with _style():
        fig, axs = _fig(3.4, 2.7)
        ax = axs[0][0]
        for g, pts in list(lines.items())[:10]:
            xs = sorted(pts)
            ax.plot(xs, [pts[v] for v in xs], "-o", ms=3, label=g or None)
        _log(ax, [float(v) for pts in lines.values() for v in pts], "x")
        _log(ax, [v for pts in lines.values() for v in pts.values()], "y")
        ax.set_xlabel(x)
        ax.set_ylabel(_label(metric))
        ax.set_title(f"{view.name}: {_label(metric)}")
        if rest:
            ax.legend(frameon=False, fontsize=5.5, loc="upper center",
                      bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig


def save(fig: Figure, out: Path, stem: str) -> dict[str, Path]:
    """Write ``fig`` as PNG, PDF and SVG under ``out``; return the paths by extension."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext in ("png", "pdf", "svg"):
        p = out / f"{stem}.{ext}"
        tmp = out / f".{stem}.tmp.{ext}"
        with _style():  # the style's dpi and tight bounding box apply when saving
            fig.savefig(tmp, format=ext)
        tmp.replace(p)
        paths[ext] = p
    plt.close(fig)
    return paths


def _pos(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and v > 0


def _sortable(view: SweepView, f: str) -> bool:
    vals = [r.axes.get(f) for r in view.rows]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)


def _log(ax: Any, vals: Sequence[Any], which: str) -> None:
    nums = [float(v) for v in vals if _pos(v)]
    if nums and max(nums) / min(nums) > 30:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
