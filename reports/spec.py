"""Sweep spec (YAML) -> the list of points to evaluate.

A spec names a point ``kind`` (:mod:`mixforge.reports.points`), a ``base`` config, ``set``
overrides, ``axes`` over dotted fields of the resolved config (lists, ``{range: [a, b, step]}``
inclusive, ``{linspace: [a, b, n]}``, ``{log_range: [a, b], factor: f}`` or ``num: n``, and
zipped axes ``name: {zip: {field: [...], field: [...]}}``), ``derived`` fields (expressions,
e.g. ``hw.xpu.array.cols: hw.xpu.array.rows``), ``constraints`` that mark points infeasible
(those reading ``metrics`` are checked after evaluation, the others before: an infeasible point
is kept in the store, not dropped), ``sample`` (``grid``, or ``random`` / ``lhs`` with ``n`` and
``seed``) and the ``metrics`` to keep. Errors name the spec file and the dotted field.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mixforge.config import load_yaml
from mixforge.errors import ConfigError
from mixforge.reports.expr import Expr
from mixforge.reports.points import PointKind, canonical_json, get_kind

__all__ = ["Axis", "Constraint", "Point", "SweepSpec", "load_spec", "spec_from_dict", "point_key"]

_TOP = {"name", "kind", "description", "base", "set", "axes", "derived", "constraints",
        "sample", "metrics", "report"}


@dataclass(frozen=True)
class Axis:
    """One axis: ``fields`` move together (one field, or a zipped group), ``values[i]`` holds
    one value per field."""

    name: str
    fields: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Constraint:
    """``expr`` must hold for a point to be feasible; ``post`` when it reads ``metrics``."""

    expr: Expr
    name: str
    post: bool


@dataclass(frozen=True)
class Point:
    """One resolved point: its ``key`` in the store, its axis values, its full config, and why
    it is infeasible before evaluation (``None`` when feasible)."""

    index: int
    key: str
    axes: dict[str, Any]
    config: dict[str, Any]
    infeasible: str | None = None


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep spec (see the module doc); :meth:`points` expands it."""

    name: str
    kind: PointKind
    file: str
    base: dict[str, Any]
    axes: tuple[Axis, ...]
    derived: tuple[tuple[str, Expr], ...]
    constraints: tuple[Constraint, ...]
    sample: dict[str, Any]
    metrics: tuple[str, ...]
    description: str = ""
    report: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None

    def grid_size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    def points(self) -> list[Point]:
        """Every point of the sweep (grid order, or the seeded sample), each key unique."""
        seen: set[str] = set()
        out: list[Point] = []
        for combo in self._combos():
            cfg = copy.deepcopy(self.base)
            axes: dict[str, Any] = {}
            for axis, i in zip(self.axes, combo, strict=True):
                for fld, val in zip(axis.fields, axis.values[i], strict=True):
                    _set(cfg, fld, val, self.file, f"axes.{axis.name}")
                    axes[fld] = val
            for fld, ex in self.derived:
                val = ex(cfg)
                _set(cfg, fld, val, self.file, f"derived.{fld}")
                if not isinstance(val, dict | list):
                    axes.setdefault(fld, val)
            if self.kind.normalise is not None:
                try:
                    cfg = self.kind.normalise(cfg)
                except ConfigError as exc:
                    raise ConfigError(f"point {axes}: {exc}", file=self.file,
                                      path="axes") from None
            key = point_key(self.kind.name, cfg)
            if key in seen:
                continue
            seen.add(key)
            why = None
            for c in self.constraints:
                if not c.post and not c.expr(cfg):
                    why = c.name
                    break
            out.append(Point(len(out), key, axes, cfg, why))
        return out

    def _combos(self) -> list[tuple[int, ...]]:
        sizes = [len(a.values) for a in self.axes]
        method = self.sample.get("method", "grid")
        if method == "grid":
            return list(itertools.product(*(range(s) for s in sizes)))
        n, rng = int(self.sample["n"]), np.random.default_rng(self.sample.get("seed", 0))
        if method == "random":
            return [tuple(int(v) for v in row)
                    for row in rng.integers(0, sizes, size=(n, len(sizes)))] if sizes else [()]
        # Latin hypercube: each axis cut into n strata, one sample per stratum, shuffled
        cols = []
        for s in sizes:
            u = (rng.permutation(n) + rng.random(n)) / n
            cols.append(np.minimum((u * s).astype(int), s - 1))
        return [tuple(int(c[i]) for c in cols) for i in range(n)] if sizes else [()]

    def post_check(self, config: dict[str, Any], metrics: dict[str, Any]) -> str | None:
        """Name of the first post-evaluation constraint ``metrics`` violate (``None``: ok).

        A constraint reading a metric that is missing or ``None`` counts as violated."""
        env = {**config, "metrics": metrics}
        for c in self.constraints:
            if c.post:
                try:
                    ok = c.expr(env)
                except ConfigError:
                    ok = False
                if not ok:
                    return c.name
        return None


def point_key(kind: str, config: dict[str, Any]) -> str:
    """Store key: hash of the fully resolved config + the mixforge version + the point kind."""
    from mixforge import __version__

    text = canonical_json({"kind": kind, "version": __version__, "config": config})
    return hashlib.sha256(text.encode()).hexdigest()


def _get(cfg: dict[str, Any], dotted: str) -> Any:
    cur: Any = cfg
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(part)
        cur = cur[part]
    return cur


def _set(cfg: dict[str, Any], dotted: str, value: Any, file: str, where: str) -> None:
    parts = dotted.split(".")
    cur: Any = cfg
    for i, part in enumerate(parts[:-1]):
        nxt = cur.get(part) if isinstance(cur, dict) else None
        if not isinstance(nxt, dict):
            have = ".".join(parts[:i + 1])
            raise ConfigError(f"{have} is {'not a mapping' if nxt is not None else 'null'} in "
                              f"the base config, so {dotted} cannot be set", file=file,
                              path=where)
        cur = nxt
    if parts[-1] not in cur:
        known = ", ".join(sorted(cur)) if isinstance(cur, dict) else ""
        raise ConfigError(f"no field {dotted} in the resolved {parts[0]!r} config "
                          f"(fields there: {known})", file=file, path=where)
    cur[parts[-1]] = value


def _number(v: Any, file: str, where: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"must be a number, not {v!r}", file=file, path=where)
    return v


def _values(spec: Any, file: str, where: str) -> list[Any]:
    """Expand one axis value spec into its list of values."""
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("must list at least one value", file=file, path=where)
        return list(spec)
    if not isinstance(spec, dict) or len(spec.keys() & {"range", "linspace", "log_range"}) != 1:
        raise ConfigError("must be a list, or a mapping with one of range: [start, stop, step], "
                          "linspace: [start, stop, num], log_range: [start, stop] (+ factor or "
                          f"num); not {spec!r}", file=file, path=where)
    (form,) = spec.keys() & {"range", "linspace", "log_range"}
    args = spec[form]
    extra = set(spec) - {form, "factor", "num"}
    if extra:
        raise ConfigError("unknown key (known keys: range, linspace, log_range, factor, num)",
                          file=file, path=f"{where}.{sorted(extra)[0]}")
    want = 3 if form in ("range", "linspace") else 2
    if not isinstance(args, list) or len(args) != want:
        raise ConfigError(f"must be a list of {want} numbers, not {args!r}", file=file,
                          path=f"{where}.{form}")
    a, b, *rest = (_number(v, file, f"{where}.{form}[{i}]") for i, v in enumerate(args))
    if form == "range":
        step = rest[0]
        if step <= 0 or b < a:
            raise ConfigError(f"needs start <= stop and step > 0, not {args}", file=file,
                              path=f"{where}.range")
        n = int(math.floor((b - a) / step + 1e-9)) + 1
        return [a + i * step for i in range(n)]
    if form == "linspace":
        num = rest[0]
        if not isinstance(num, int) or num < 1:
            raise ConfigError(f"num must be a positive integer, not {num!r}", file=file,
                              path=f"{where}.linspace[2]")
        return [float(v) for v in np.linspace(a, b, num)]
    if a <= 0 or b < a:
        raise ConfigError(f"needs 0 < start <= stop, not {args}", file=file,
                          path=f"{where}.log_range")
    if "num" in spec:
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ConfigError(f"must be a positive integer, not {num!r}", file=file,
                              path=f"{where}.num")
        return [float(v) for v in np.geomspace(a, b, num)]
    factor = _number(spec.get("factor", 2), file, f"{where}.factor")
    if factor <= 1:
        raise ConfigError(f"must be > 1, not {factor}", file=file, path=f"{where}.factor")
    out: list[Any] = []
    v: float | int = a
    while v <= b * (1 + 1e-12):
        out.append(v)
        v = v * factor
    return out


def _axes(data: Any, base: dict[str, Any], file: str) -> tuple[Axis, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of field -> values", file=file, path="axes")
    axes = []
    for name, spec in data.items():
        where = f"axes.{name}"
        if isinstance(spec, dict) and "zip" in spec:
            if set(spec) != {"zip"} or not isinstance(spec["zip"], dict) or not spec["zip"]:
                raise ConfigError("a zipped axis is {zip: {field: [values], ...}}", file=file,
                                  path=where)
            cols = {f: _values(v, file, f"{where}.zip.{f}") for f, v in spec["zip"].items()}
            lengths = {len(v) for v in cols.values()}
            if len(lengths) != 1:
                raise ConfigError(f"zipped fields must have equal lengths, not "
                                  f"{[len(v) for v in cols.values()]}", file=file, path=where)
            fields = tuple(cols)
            values = tuple(zip(*cols.values(), strict=True))
        else:
            fields, values = (str(name),), tuple((v,) for v in _values(spec, file, where))
        for f in fields:
            _set(copy.deepcopy(base), f, None, file, where)  # the field must exist
        axes.append(Axis(str(name), fields, values))
    return tuple(axes)


def spec_from_dict(data: dict[str, Any], *, file: str) -> SweepSpec:
    """Parse a spec mapping (``schema_version`` removed); paths are relative to ``file``."""
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"unknown key (known keys: {', '.join(sorted(_TOP))})", file=file,
                          path=unknown[0])
    name = data.get("name", Path(file).stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"must be a non-empty string, not {name!r}", file=file, path="name")
    kind = get_kind(data.get("kind", "op"), file=file)
    raw_base = data.get("base")
    if not isinstance(raw_base, dict):
        raise ConfigError("must be a mapping", file=file, path="base")
    base = kind.resolve(raw_base, file)
    sets = data.get("set") or {}
    if not isinstance(sets, dict):
        raise ConfigError("must be a mapping of field -> value", file=file, path="set")
    for fld, val in sets.items():
        _set(base, str(fld), val, file, f"set.{fld}")
    axes = _axes(data.get("axes"), base, file)
    seen: dict[str, str] = {}
    for ax in axes:
        for f in ax.fields:
            if f in seen:
                raise ConfigError(f"field {f} is already an axis ({seen[f]})", file=file,
                                  path=f"axes.{ax.name}")
            seen[f] = ax.name
    derived = []
    for fld, text in (data.get("derived") or {}).items():
        where = f"derived.{fld}"
        _set(copy.deepcopy(base), str(fld), None, file, where)
        derived.append((str(fld), Expr(str(text), file, where)))
    constraints = []
    raw_c = data.get("constraints") or []
    if not isinstance(raw_c, list):
        raise ConfigError("must be a list of expressions", file=file, path="constraints")
    for i, c in enumerate(raw_c):
        where = f"constraints[{i}]"
        text, cname = (c.get("expr"), c.get("name")) if isinstance(c, dict) else (c, None)
        if not isinstance(text, str):
            raise ConfigError("must be an expression string or {expr, name}", file=file,
                              path=where)
        ex = Expr(text, file, where)
        bad = ex.names() - set(base) - {"metrics"}
        if bad:
            raise ConfigError(f"unknown name {sorted(bad)[0]!r} (use {', '.join(sorted(base))} "
                              "or metrics)", file=file, path=where)
        unknown = sorted(set(re.findall(r"\bmetrics\.(\w+)", text)) - set(kind.metrics))
        if unknown:
            raise ConfigError(f"unknown metric {unknown[0]!r} of kind {kind.name} (known: "
                              f"{', '.join(kind.metrics)})", file=file, path=where)
        constraints.append(Constraint(ex, cname or text, "metrics" in ex.names()))
    sample = data.get("sample") or {"method": "grid"}
    if not isinstance(sample, dict) or sample.get("method", "grid") not in ("grid", "random",
                                                                             "lhs"):
        raise ConfigError("must be {method: grid} or {method: random|lhs, n: N, seed: S}",
                          file=file, path="sample")
    if sample.get("method", "grid") != "grid":
        n = sample.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"must be a positive integer, not {n!r}", file=file,
                              path="sample.n")
        if not isinstance(sample.get("seed", 0), int):
            raise ConfigError("must be an integer", file=file, path="sample.seed")
    metrics = data.get("metrics") or list(kind.metrics)
    if not isinstance(metrics, list):
        raise ConfigError("must be a list of metric names", file=file, path="metrics")
    for i, m in enumerate(metrics):
        if m not in kind.metrics:
            raise ConfigError(f"unknown metric {m!r} of kind {kind.name} (known: "
                              f"{', '.join(kind.metrics)})", file=file, path=f"metrics[{i}]")
    report = _report(data.get("report"), [f for a in axes for f in a.fields], file)
    return SweepSpec(name=name, kind=kind, file=file, base=base, axes=axes,
                     derived=tuple(derived), constraints=tuple(constraints), sample=dict(sample),
                     metrics=tuple(metrics), description=str(data.get("description", "")),
                     report=report, raw=data)


def _report(report: Any, fields: list[str], file: str) -> dict[str, Any] | None:
    """Check the ``report`` section: ``pareto`` (the Pareto objectives), ``lines`` (metrics
    drawn against the first numeric axis, one line per combination of the others) and
    ``compare`` (gains over a baseline value of one axis)."""
    if report is None:
        return None
    if not isinstance(report, dict):
        raise ConfigError("must be a mapping", file=file, path="report")
    for k in report:
        if k not in ("pareto", "compare", "lines"):
            raise ConfigError("unknown key (known keys: compare, lines, pareto)", file=file,
                              path=f"report.{k}")
    for key in ("pareto", "lines"):
        if not isinstance(report.get(key, []), list):
            raise ConfigError("must be a list of metric names", file=file, path=f"report.{key}")
    cmp = report.get("compare")
    if cmp is not None:
        if not isinstance(cmp, dict) or not {"axis", "baseline"} <= set(cmp) \
                or set(cmp) - {"axis", "baseline", "metrics", "paper"}:
            raise ConfigError("must be {axis, baseline, metrics, paper}", file=file,
                              path="report.compare")
        if cmp["axis"] not in fields:
            raise ConfigError(f"{cmp['axis']!r} is not an axis field", file=file,
                              path="report.compare.axis")
    return report


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep spec YAML file (``schema_version: 1``)."""
    return spec_from_dict(load_yaml(path), file=str(path))
