"""The report's view of a sweep: rows flattened to records, Pareto fronts, best designs.

Pure Python (no matplotlib): :mod:`mixforge.reports.plots` draws what this computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mixforge.reports.store import Row

__all__ = ["SweepView", "pareto_front", "maximise", "short_label", "compare_table"]

#: Metrics where more is better (everything else is minimised).
_MAX_WORDS = ("per_s", "goodput", "utilisation", "throughput", "tokens_s")


def maximise(metric: str) -> bool:
    """True when larger values of ``metric`` are better (tokens/s, goodput, utilisation)."""
    return any(w in metric for w in _MAX_WORDS)


def pareto_front(points: Sequence[tuple[float, ...]], senses: Sequence[bool]) -> list[int]:
    """Indices of the non-dominated points (``senses[i]``: maximise objective ``i``).

    A point dominates another when it is at least as good in every objective and better in
    one; ties (equal points) are all kept.
    """
    sign = [(-1.0 if mx else 1.0) for mx in senses]
    vals = [tuple(s * v for s, v in zip(sign, p, strict=True)) for p in points]
    order = sorted(range(len(vals)), key=lambda i: vals[i])
    front: list[int] = []
    for i in order:
        vi = vals[i]
        dominated = False
        for j in front:
            vj = vals[j]
            if all(a <= b for a, b in zip(vj, vi, strict=True)) and vj != vi:
                dominated = True
                break
        if not dominated:
            front.append(i)
    return sorted(front)


def short_label(axes: dict[str, Any], varying: Sequence[str]) -> str:
    """``rows=64, m=2048``: the varying axis values of a point, last dotted part as the name."""
    parts = []
    for f in varying:
        v = axes.get(f)
        if isinstance(v, dict | list):
            continue
        if isinstance(v, float):
            v = f"{v:.3g}"
        parts.append(f"{f.rsplit('.', 1)[-1]}={v}")
    return ", ".join(parts)


@dataclass
class SweepView:
    """One sweep's rows with what the report needs: varying axes, objectives, the front."""

    name: str
    kind: str
    spec: dict[str, Any]
    rows: list[Row]
    primary: tuple[str, ...]

    @cached_property
    def varying(self) -> list[str]:
        fields: list[str] = []
        for r in self.rows:
            for f in r.axes:
                if f not in fields:
                    fields.append(f)
        return [f for f in fields if len({repr(r.axes.get(f)) for r in self.rows}) > 1]

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "failed": 0, "infeasible": 0, "pending": 0}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def objectives(self) -> tuple[str, ...]:
        """The Pareto objectives: the spec's ``report.pareto`` or the kind's primary metrics,
        keeping those the rows have numbers for."""
        want = tuple((self.spec.get("report") or {}).get("pareto") or self.primary)
        return tuple(m for m in want if any(_num(r.metrics.get(m)) for r in self.rows))

    def scored(self, status: str = "ok") -> list[Row]:
        objs = self.objectives()
        return [r for r in self.rows if r.status == status
                and all(_num(r.metrics.get(m)) for m in objs)]

    def front(self, objectives: Sequence[str] | None = None) -> list[Row]:
        """Feasible points on the Pareto front of ``objectives`` (default: all of them)."""
        objs = tuple(objectives or self.objectives())
        ok = [r for r in self.scored() if all(_num(r.metrics.get(m)) for m in objs)]
        if not ok or not objs:
            return []
        idx = pareto_front([tuple(float(r.metrics[m]) for m in objs) for r in ok],
                           [maximise(m) for m in objs])
        return [ok[i] for i in idx]

    def best(self, n: int) -> list[Row]:
        """Up to ``n`` feasible designs ranked by the first objective (front points first)."""
        objs = self.objectives()
        if not objs:
            return [r for r in self.rows if r.status == "ok"][:n]
        first = objs[0]
        front = {r.key for r in self.front()}
        sign = -1.0 if maximise(first) else 1.0
        ranked = sorted(self.scored(), key=lambda r: (r.key not in front,
                                                      sign * float(r.metrics[first])))
        return ranked[:n]

    def records(self) -> list[dict[str, Any]]:
        """Flat records for the CSV: index, key, status, why, axes, metrics, error."""
        axes = [f for f in self.varying] + [f for r in self.rows[:1] for f in r.axes
                                             if f not in self.varying]
        metric_names: list[str] = []
        for r in self.rows:
            for m in r.metrics:
                if m not in metric_names:
                    metric_names.append(m)
        out = []
        for r in self.rows:
            rec: dict[str, Any] = {"index": r.index, "key": r.key[:16], "status": r.status,
                                   "infeasible": r.infeasible or ""}
            rec.update({f: r.axes.get(f) for f in axes})
            rec.update({m: r.metrics.get(m) for m in metric_names})
            rec["error"] = r.error or ""
            out.append(rec)
        return out


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and v > 0


def compare_table(view: SweepView) -> tuple[list[str], list[list[str]], str] | None:
    """The spec's ``report.compare`` (``axis``, ``baseline``, ``metrics``, ``paper``): for each
    combination of the other axes and each non-baseline value of ``axis``, the gain over the
    baseline of each metric (``value / baseline`` for metrics where more is better, else
    ``baseline / value``: above 1 is always better). Returns (header, rows, paper note)."""
    cmp = (view.spec.get("report") or {}).get("compare")
    if not cmp:
        return None
    axis, base, metrics = cmp["axis"], cmp["baseline"], list(cmp.get("metrics") or [])
    tied = {axis}
    for entry in (view.spec.get("axes") or {}).values():
        if isinstance(entry, dict) and "zip" in entry and axis in entry["zip"]:
            tied |= set(entry["zip"])
    tied |= set(view.spec.get("derived") or {})
    others = [f for f in view.varying if f not in tied]
    groups: dict[str, dict[Any, Row]] = {}
    for r in view.rows:
        if r.status in ("ok", "infeasible") and r.metrics:
            groups.setdefault(short_label(r.axes, others), {})[repr(r.axes.get(axis))] = r
    head = [*(f.rsplit(".", 1)[-1] for f in others), axis.rsplit(".", 1)[-1],
            *(f"{m} gain" for m in metrics)]
    rows = []
    for _, by in groups.items():
        b = by.get(repr(base))
        if b is None:
            continue
        for val, r in by.items():
            if val == repr(base):
                continue
            cells = []
            for m in metrics:
                x, y = r.metrics.get(m), b.metrics.get(m)
                if not (_num(x) and _num(y)):
                    cells.append("-")
                    continue
                gain = float(x) / float(y) if maximise(m) else float(y) / float(x)  # type: ignore[arg-type]
                cells.append(f"{gain:.2f}x")
            rows.append([*(str(r.axes.get(f)) for f in others), str(r.axes.get(axis)), *cells])
    return head, rows, str(cmp.get("paper", ""))
