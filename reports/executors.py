"""Where points are evaluated: in-process, a local process pool, or a Ray cluster.

Every executor maps :func:`evaluate_chunk` over chunks of tasks and yields the chunks' results
as they finish (any order). Workers only compute and return; the coordinator writes the store.
A point that raises is returned as failed with its error text; a worker that dies (killed,
out of memory) fails the points of its chunk the same way, and the sweep goes on.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from mixforge.errors import ConfigError, MixforgeError

__all__ = ["Task", "Outcome", "evaluate_chunk", "Executor", "LocalExecutor", "RayExecutor",
           "make_executor"]

#: ``(key, kind, config)``: one point to evaluate.
Task = tuple[str, str, dict[str, Any]]
#: ``(key, status, metrics, detail, error, wall_s)``: ``status`` is ``ok`` or ``failed``.
Outcome = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, str | None, float]


def evaluate_chunk(tasks: Sequence[Task]) -> list[Outcome]:
    """Evaluate each task; errors become failed outcomes (never raised)."""
    from mixforge.reports.points import get_kind

    out: list[Outcome] = []
    for key, kind, cfg in tasks:
        t0 = time.perf_counter()
        try:
            res = get_kind(kind).evaluate(cfg)
            out.append((key, "ok", res.metrics, res.detail, None, time.perf_counter() - t0))
        except MixforgeError as exc:
            out.append((key, "failed", None, None, f"{type(exc).__name__}: {exc}",
                        time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 -- a bug in one point must not stop a sweep
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{os.path.basename(tb.filename)}:{tb.lineno}"
            out.append((key, "failed", None, None, f"{type(exc).__name__}: {exc} ({where})",
                        time.perf_counter() - t0))
    return out


def _died(chunk: Sequence[Task], why: str) -> list[Outcome]:
    return [(key, "failed", None, None, f"worker died: {why}", 0.0) for key, _, _ in chunk]


class Executor:
    """Base: :meth:`run` yields the outcome lists of ``chunks`` as they complete."""

    name = "inline"
    workers = 1

    def run(self, chunks: Iterable[Sequence[Task]]) -> Iterator[list[Outcome]]:
        for chunk in chunks:
            yield evaluate_chunk(chunk)

    def close(self) -> None:
        """Release workers."""


class LocalExecutor(Executor):
    """A local process pool of ``jobs`` workers (``jobs == 1``: in this process)."""

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise ConfigError(f"must be >= 1, not {jobs}", path="--jobs")
        self.workers = jobs
        self.name = "local" if jobs == 1 else f"local pool ({jobs} processes)"
        self._pool: ProcessPoolExecutor | None = None

    def run(self, chunks: Iterable[Sequence[Task]]) -> Iterator[list[Outcome]]:
        if self.workers == 1:
            yield from super().run(chunks)
            return
        from concurrent.futures.process import BrokenProcessPool

        self._pool = ProcessPoolExecutor(max_workers=self.workers)
        pending: dict[Future[list[Outcome]], Sequence[Task]] = {}
        it = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                chunk = next(it, None)
                if chunk is None:
                    exhausted = True
                    break
                pending[self._pool.submit(evaluate_chunk, chunk)] = chunk
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                chunk = pending.pop(fut)
                try:
                    yield fut.result()
                except BrokenProcessPool as exc:
                    yield _died(chunk, str(exc) or "process pool broken")
                    for other in pending.values():
                        yield _died(other, "process pool broken")
                    pending.clear()
                    self._pool.shutdown(cancel_futures=True)
                    self._pool = ProcessPoolExecutor(max_workers=self.workers)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class RayExecutor(Executor):
    """Ray tasks on a cluster (``address``) or a local Ray instance with ``jobs`` CPUs.

    Needs the optional extra: ``pip install 'mixforge[ray]'``.
    """

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("Ray is not installed (pip install 'mixforge[ray]')",
                              path="--executor") from None
        self._ray = ray
        self._own = not ray.is_initialized()
        if self._own:
            kw: dict[str, Any] = {"address": address, "ignore_reinit_error": True,
                                  "include_dashboard": False, "log_to_driver": False}
            if address is None and jobs:
                kw["num_cpus"] = jobs
            ray.init(**kw)
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.name = f"ray ({address or 'local'}, {self.workers} CPUs)"
        self._fn = ray.remote(evaluate_chunk)

    def run(self, chunks: Iterable[Sequence[Task]]) -> Iterator[list[Outcome]]:
        ray = self._ray
        pending: dict[Any, Sequence[Task]] = {}
        it = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                chunk = next(it, None)
                if chunk is None:
                    exhausted = True
                    break
                pending[self._fn.remote(list(chunk))] = chunk
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                chunk = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # noqa: BLE001 -- a lost worker fails its chunk only
                    yield _died(chunk, f"{type(exc).__name__}: {exc}".splitlines()[0])

    def close(self) -> None:
        if self._own and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(kind: str = "local", *, jobs: int = 1, address: str | None = None
                  ) -> Executor:
    """``"local"`` (``jobs`` processes) or ``"ray"`` (``address``: a cluster; else local)."""
    if kind == "local":
        if address:
            raise ConfigError("only the ray executor takes an address", path="--address")
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(address, jobs)
    raise ConfigError(f"must be local or ray, not {kind!r}", path="--executor")
