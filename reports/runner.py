"""The sweep coordinator: expand the spec, skip what the store holds, evaluate the rest, store.

Only this process writes the store. Outcomes are committed in batches (every
``commit_every_s`` seconds or ``commit_rows`` rows, and at the end), so a sweep killed at any
moment loses at most the uncommitted batch, and a restart computes exactly the points that are
not stored: none twice, none lost.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from mixforge.reports.executors import Executor, LocalExecutor, Outcome, Task
from mixforge.reports.spec import Point, SweepSpec
from mixforge.reports.store import Store

__all__ = ["Progress", "run_sweep", "chunk_size"]


@dataclass
class Progress:
    """Counts of a running sweep (what the progress bar and the summary print): ``done``
    evaluated by this run, ``cached`` found in the store, ``failed`` and ``infeasible`` from
    either; ``evaluated`` counts this run's evaluations (the rate and the ETA)."""

    total: int
    cached: int = 0
    done: int = 0
    failed: int = 0
    infeasible: int = 0
    started: float = field(default_factory=time.perf_counter)
    to_compute: int = 0
    evaluated: int = 0
    executor: str = ""

    @property
    def finished(self) -> int:
        return self.cached + self.done + self.failed + self.infeasible

    def eta_s(self) -> float | None:
        left = self.total - self.finished
        elapsed = time.perf_counter() - self.started
        if self.evaluated == 0:
            return None
        return left * elapsed / self.evaluated

    def rate_per_min(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.evaluated / elapsed * 60 if elapsed > 0 else 0.0


def chunk_size(n: int, workers: int) -> int:
    """Points per task: enough to amortise dispatch, small enough to balance and to lose
    little when a worker dies (about 8 chunks per worker, 1..64 points)."""
    return max(1, min(64, math.ceil(n / (8 * max(1, workers)))))


def _post_metrics(spec: SweepSpec) -> set[str]:
    names: set[str] = set()
    for c in spec.constraints:
        names |= set(re.findall(r"\bmetrics\.(\w+)", c.expr.text))
    return names


def run_sweep(spec: SweepSpec, store: Store, executor: Executor | None = None, *,
              retry_failed: bool = False, on_progress: Callable[[Progress], None] | None = None,
              commit_every_s: float = 1.0, commit_rows: int = 500,
              limit: int | None = None) -> Progress:
    """Run ``spec`` into ``store``; return the final counts.

    Parameters
    ----------
    retry_failed
        Evaluate again points stored as failed (default: keep their error).
    on_progress
        Called after each batch of outcomes (and once at the start and the end).
    limit
        Evaluate at most this many new points (the rest stay pending for a later run).
    """
    from mixforge import __version__

    executor = executor or LocalExecutor(1)
    points = spec.points()
    keep = set(spec.metrics) | _post_metrics(spec)
    store.register_sweep(spec.name, spec.file, spec.raw or {}, spec.kind.name,
                         [f for a in spec.axes for f in a.fields], spec.metrics, __version__,
                         ((p.key, p.index, p.axes, p.infeasible) for p in points))
    stored = store.stored(p.key for p in points)
    prog = Progress(total=len(points), executor=executor.name)
    run_id = uuid.uuid4().hex[:12]
    todo: list[Point] = []
    pre_infeasible: list[Point] = []
    recheck: list[tuple[str, str | None]] = []
    for p in points:
        st = stored.get(p.key)
        if p.infeasible is not None:
            if st is None:
                pre_infeasible.append(p)
            else:
                prog.infeasible += 1  # stored earlier, infeasible under today's constraints
            continue
        if st is None or (st[0] == "failed" and retry_failed) or st[0] == "infeasible":
            todo.append(p)  # "infeasible" rows were never evaluated; now they are feasible
            continue
        status, metrics = st
        if status == "failed":
            prog.failed += 1
        else:
            why = spec.post_check(p.config, metrics or {})
            recheck.append((p.key, why))
            if why:
                prog.infeasible += 1
            else:
                prog.cached += 1
    if recheck:
        store.set_infeasible(spec.name, recheck)
    if pre_infeasible:
        store.put(((p.key, spec.kind.name, __version__, "infeasible", p.config, None, None,
                    None, 0.0) for p in pre_infeasible), run_id)
        prog.infeasible += len(pre_infeasible)
    if limit is not None:
        todo = todo[:limit]
    prog.to_compute = len(todo)
    if on_progress:
        on_progress(prog)
    by_key = {p.key: p for p in todo}
    size = chunk_size(len(todo), executor.workers)
    tasks: Iterator[Sequence[Task]] = (
        [(p.key, spec.kind.name, p.config) for p in todo[i:i + size]]
        for i in range(0, len(todo), size))
    batch: list[Outcome] = []
    last = time.perf_counter()

    def flush() -> None:
        rows, reasons = [], []
        prog.evaluated += len(batch)
        for key, status, metrics, detail, error, wall in batch:
            p = by_key[key]
            if status == "ok" and metrics is not None:
                why = spec.post_check(p.config, metrics)
                reasons.append((key, why))
                if why:
                    prog.infeasible += 1
                else:
                    prog.done += 1
                metrics = {k: v for k, v in metrics.items() if k in keep}
            else:
                prog.failed += 1
            rows.append((key, spec.kind.name, __version__, status, p.config, metrics, detail,
                         error, wall))
        store.put(rows, run_id)
        if reasons:
            store.set_infeasible(spec.name, reasons)
        batch.clear()

    try:
        for outcomes in executor.run(tasks):
            batch.extend(outcomes)
            now = time.perf_counter()
            if len(batch) >= commit_rows or now - last >= commit_every_s:
                flush()
                last = now
                if on_progress:
                    on_progress(prog)
    finally:
        if batch:  # also on Ctrl-C: keep what was computed
            flush()
        executor.close()
    if on_progress:
        on_progress(prog)
    return prog
