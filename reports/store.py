"""The result store: one SQLite file in WAL mode, written by the coordinating process only.

Tables: ``points`` (one row per point, keyed by :func:`~mixforge.reports.spec.point_key`:
status ``ok`` / ``failed`` / ``infeasible``, the resolved config, kept metrics, report detail,
the error of a failed point, which run computed it), ``members`` (which sweep holds which point,
its index and axis values, and the constraint that makes it infeasible, re-checked every run)
and ``sweeps`` (each sweep's spec). Results are committed in batches; SQLite's journal makes each
commit all-or-nothing, so a process killed mid-write (SIGKILL, power loss) leaves the last
committed batch, and a torn WAL tail is discarded on the next open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["Store", "Row", "STATUSES"]

STATUSES = ("ok", "failed", "infeasible")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, spec_file TEXT, spec TEXT, kind TEXT, axes TEXT, metrics TEXT,
    version TEXT, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, version TEXT NOT NULL, status TEXT NOT NULL,
    config TEXT NOT NULL, metrics TEXT, detail TEXT, error TEXT, wall_s REAL, run TEXT,
    finished REAL);
CREATE TABLE IF NOT EXISTS members (
    sweep TEXT NOT NULL, key TEXT NOT NULL, idx INTEGER NOT NULL, axes TEXT NOT NULL,
    infeasible TEXT, PRIMARY KEY (sweep, key));
"""


@dataclass(frozen=True)
class Row:
    """One point of one sweep as the report reads it."""

    sweep: str
    key: str
    index: int
    axes: dict[str, Any]
    status: str  # ok / failed / infeasible / pending (not computed yet)
    infeasible: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    detail: dict[str, Any]
    error: str | None


class Store:
    """Open (or create) the store at ``path``.

    Raises ``ConfigError`` naming the file when it is not a mixforge store (or not SQLite).
    ``readonly`` opens without creating or writing (the report).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise ConfigError("no such result store", file=str(path))
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_SCHEMA)
            self.db.execute("SELECT count(*) FROM points").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"not a mixforge result store ({exc})", file=str(path)) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def register_sweep(self, name: str, spec_file: str, spec: dict[str, Any], kind: str,
                       axes: Sequence[str], metrics: Sequence[str], version: str,
                       members: Iterable[tuple[str, int, dict[str, Any], str | None]]) -> None:
        """Record the sweep and its points (``(key, index, axes, infeasible)``); one commit."""
        now = time.time()
        with self._tx():
            self.db.execute(
                "INSERT INTO sweeps VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                "spec_file=excluded.spec_file, spec=excluded.spec, kind=excluded.kind, "
                "axes=excluded.axes, metrics=excluded.metrics, version=excluded.version, "
                "updated=excluded.updated",
                (name, spec_file, json.dumps(spec, default=str), kind, json.dumps(list(axes)),
                 json.dumps(list(metrics)), version, now, now))
            self.db.execute("DELETE FROM members WHERE sweep = ?", (name,))
            self.db.executemany(
                "INSERT INTO members VALUES (?,?,?,?,?)",
                ((name, key, idx, json.dumps(ax, default=str), why)
                 for key, idx, ax, why in members))

    def put(self, rows: Iterable[tuple[str, str, str, str, dict[str, Any], dict[str, Any] | None,
                                       dict[str, Any] | None, str | None, float]],
            run: str) -> None:
        """Insert or replace point rows ``(key, kind, version, status, config, metrics,
        detail, error, wall_s)`` in one transaction."""
        now = time.time()
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                ((k, kind, ver, st, json.dumps(cfg, default=str),
                  None if m is None else json.dumps(m, default=str),
                  None if d is None else json.dumps(d, default=str), err, wall, run, now)
                 for k, kind, ver, st, cfg, m, d, err, wall in rows))

    def set_infeasible(self, sweep: str, reasons: Iterable[tuple[str, str | None]]) -> None:
        """Update ``members.infeasible`` for ``(key, reason)`` pairs of ``sweep``."""
        with self._tx():
            self.db.executemany("UPDATE members SET infeasible = ? WHERE sweep = ? AND key = ?",
                                ((why, sweep, key) for key, why in reasons))

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, et: object, *rest: object) -> None:
            self.db.execute("COMMIT" if et is None else "ROLLBACK")

    def _tx(self) -> Store._Tx:
        return Store._Tx(self.db)

    # ------------------------------------------------------------------ reading
    def statuses(self, keys: Iterable[str]) -> dict[str, str]:
        """Stored status of each of ``keys`` that is in the store."""
        out: dict[str, str] = {}
        keys = list(keys)
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            q = f"SELECT key, status FROM points WHERE key IN ({','.join('?' * len(chunk))})"
            out.update(dict(self.db.execute(q, chunk).fetchall()))
        return out

    def stored(self, keys: Iterable[str]) -> dict[str, tuple[str, dict[str, Any] | None]]:
        """``key -> (status, metrics)`` for the stored ones of ``keys``."""
        out: dict[str, tuple[str, dict[str, Any] | None]] = {}
        keys = list(keys)
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            q = (f"SELECT key, status, metrics FROM points WHERE key IN "
                 f"({','.join('?' * len(chunk))})")
            for k, st, m in self.db.execute(q, chunk):
                out[k] = (st, None if m is None else json.loads(m))
        return out

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep in the store, oldest first."""
        cur = self.db.execute("SELECT name, spec_file, spec, kind, axes, metrics, version "
                              "FROM sweeps ORDER BY created")
        return [{"name": n, "spec_file": f, "spec": json.loads(s), "kind": k,
                 "axes": json.loads(a), "metrics": json.loads(m), "version": v}
                for n, f, s, k, a, m, v in cur]

    def rows(self, sweep: str) -> Iterator[Row]:
        """The points of ``sweep`` in index order (``status == "pending"`` when not computed)."""
        cur = self.db.execute(
            "SELECT m.key, m.idx, m.axes, m.infeasible, p.status, p.config, p.metrics, "
            "p.detail, p.error FROM members m LEFT JOIN points p ON p.key = m.key "
            "WHERE m.sweep = ? ORDER BY m.idx", (sweep,))
        for key, idx, axes, why, st, cfg, met, det, err in cur:
            status = st or "pending"
            if status == "ok" and why:
                status = "infeasible"
            yield Row(sweep, key, idx, json.loads(axes), status, why,
                      json.loads(cfg) if cfg else {}, json.loads(met) if met else {},
                      json.loads(det) if det else {}, err)

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM points").fetchone()[0])
