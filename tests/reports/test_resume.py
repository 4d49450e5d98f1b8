"""The store survives SIGKILL at any moment and a torn last write: a restarted sweep completes
with every point exactly once and recomputes nothing that was stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_specs import write_spec

from mixforge.cli import main
from mixforge.reports.runner import run_sweep
from mixforge.reports.spec import load_spec
from mixforge.reports.store import Store

N_POINTS = 60


def _spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path, """name: resume
axes:
  hw.xpu.array.rows: [8, 16, 32]
  op.m: {range: [16, 320, 16]}
derived:
  hw.xpu.array.cols: hw.xpu.array.rows
""")


def _rows(db: Path) -> dict[str, tuple[str, float]]:
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return {k: (r, f) for k, r, f in con.execute("SELECT key, run, finished FROM points")}
    except sqlite3.OperationalError:  # killed before the schema was committed
        return {}
    finally:
        con.close()


def _start(spec: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mixforge", "sweep", str(spec), "--db", str(db), "--quiet",
         "--commit-every", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, cwd=spec.parent)  # not the checkout: its mixforge/ would shadow


@pytest.mark.parametrize("kill_at", [0, 5, 30])
def test_sigkill_then_resume(tmp_path: Path, kill_at: int,
                             capsys: pytest.CaptureFixture[str]) -> None:
    spec, db = _spec(tmp_path), tmp_path / "r.db"
    proc = _start(spec, db)
    deadline = time.monotonic() + 120
    while kill_at and len(_rows(db)) < kill_at and proc.poll() is None:
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.02)
    if proc.poll() is not None:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        pytest.fail(f"the sweep exited ({proc.returncode}) before the kill: {err[-2000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _rows(db)
    assert len(before) < N_POINTS, "finished before the kill: make the sweep longer"
    if db.exists() and db.with_name(db.name + "-wal").exists():  # a torn last write
        with open(db.with_name(db.name + "-wal"), "ab") as f:
            f.write(os.urandom(700))
    assert main(["sweep", str(spec), "--db", str(db), "--quiet"]) == 0
    out = capsys.readouterr().out
    after = _rows(db)
    assert len(after) == N_POINTS
    for key, row in before.items():  # stored points were not recomputed
        assert after[key] == row
    assert f"{N_POINTS - len(before)} computed, {len(before)} cached" in out
    with Store(db, readonly=True) as st:
        rows = list(st.rows("resume"))
    assert len(rows) == N_POINTS == len({r.key for r in rows})
    assert all(r.status == "ok" for r in rows)


def test_truncated_wal_and_not_a_store(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    spec, db = _spec(tmp_path), tmp_path / "r.db"
    with Store(db) as st:
        run_sweep(load_spec(spec), st, limit=20, commit_every_s=0)
        # keep the WAL: copy the files as a crash would leave them
        crash = tmp_path / "crash.db"
        for suffix in ("", "-wal"):
            src = db.with_name(db.name + suffix)
            if src.exists():
                crash.with_name(crash.name + suffix).write_bytes(src.read_bytes())
    wal = crash.with_name(crash.name + "-wal")
    if wal.exists():  # cut the last frame in half
        data = wal.read_bytes()
        wal.write_bytes(data[:-2000])
    assert main(["sweep", str(spec), "--db", str(crash), "--quiet"]) == 0
    assert len(_rows(crash)) == N_POINTS
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    assert main(["sweep", str(spec), "--db", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "not a mixforge result store" in err[0]
