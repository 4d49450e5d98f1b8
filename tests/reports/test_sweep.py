"""Running sweeps: failed and infeasible points are stored, executors agree, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_specs import write_spec

from mixforge.cli import main
from mixforge.reports.executors import LocalExecutor, make_executor
from mixforge.reports.runner import run_sweep
from mixforge.reports.spec import load_spec
from mixforge.reports.store import Store


def _metrics(db: Path, sweep: str) -> dict[str, tuple[str, dict]]:
    with Store(db, readonly=True) as st:
        return {r.key: (r.status, r.metrics) for r in st.rows(sweep)}


def test_failed_points_keep_their_error_and_the_sweep_goes_on(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "axes:\n  hw.xpu.array.rows: [8, -4, 16]\n"))
    db = tmp_path / "r.db"
    with Store(db) as st:
        prog = run_sweep(spec, st)
        assert (prog.done, prog.failed) == (2, 1)
        rows = list(st.rows(spec.name))
    bad = [r for r in rows if r.status == "failed"]
    assert len(bad) == 1 and "hw.xpu.array.rows" in (bad[0].error or "")
    with Store(db) as st:  # stored failures are not evaluated again ...
        prog = run_sweep(spec, st)
        assert (prog.evaluated, prog.cached, prog.failed) == (0, 2, 1)
        prog = run_sweep(spec, st, retry_failed=True)  # ... unless asked
        assert (prog.evaluated, prog.failed) == (1, 1)


def test_post_constraints_and_pool_agree_with_inline(tmp_path: Path, small_spec: Path) -> None:
    spec = load_spec(small_spec)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with Store(a) as st:
        prog = run_sweep(spec, st, LocalExecutor(1))
    assert prog.total == 12 and prog.infeasible == 4 and prog.done == 8
    with Store(b) as st:
        run_sweep(spec, st, LocalExecutor(2))
    ma, mb = _metrics(a, "small"), _metrics(b, "small")
    assert ma == mb
    for status, m in ma.values():  # infeasible points keep their metrics for the report
        assert m["seconds"] > 0 and m["energy_j"] > 0
        assert (status == "infeasible") == (m["array_transistors"] > 2.0e7)


@pytest.mark.slow  # starting a local Ray instance takes 20-90 s
def test_ray_gives_the_same_results(tmp_path: Path, small_spec: Path) -> None:
    pytest.importorskip("ray", reason="ray is an optional extra: pip install 'mixforge[ray]'")
    spec = load_spec(small_spec)
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with Store(a) as st:
        run_sweep(spec, st)
    with Store(b) as st:
        run_sweep(spec, st, make_executor("ray", jobs=2))
    assert _metrics(a, "small") == _metrics(b, "small")


def test_cli_dry_run_and_errors(tmp_path: Path, small_spec: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    assert main(["sweep", str(small_spec), "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "12 op points" in out and out.count("todo") == 12 and not db.exists()
    assert main(["sweep", "run", str(small_spec), "--db", str(db), "--limit", "5",
                 "--quiet"]) == 0
    assert "7 pending" in capsys.readouterr().out
    assert main(["sweep", str(small_spec), "--db", str(db), "--dry-run"]) == 0
    assert capsys.readouterr().out.count("todo") == 7
    bad = write_spec(tmp_path, "axes:\n  op.mm: [1]\n", "bad.yaml")
    assert main(["sweep", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{bad}: axes.op.mm" in err
