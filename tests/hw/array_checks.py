"""Checks shared by the array test modules (imported as a sibling module, like tb_*.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mixforge.hw.array import ArrayConfig


def check_gemm_run(run: Any, cfg: ArrayConfig, n_gemms: int | None = None) -> None:
    """Bit-exact, every output present, and the timing contract held fold by fold: each
    fold's (load, stream, last output) cycle equals ``ArraySpec.schedule`` (only a tile's
    final fold has output rows; the others log last_output = -1), one output fold per tile,
    and the GEMM's cycles equal ``ArraySpec.gemm_cycles``. Multi-format arrays stream K as
    ceil(K / L) lane words."""
    assert run.passed, run.failures
    if n_gemms is not None:
        assert len(run.gemms) == n_gemms
    spec = cfg.spec
    m_tile = cfg.acc_depth if cfg.ws_dequant or cfg.ws_round else cfg.rows
    for g in run.gemms:
        assert g.mismatches == 0 and g.outputs == g.m * g.n
        kw = -(-g.k // g.lanes)
        sched = spec.schedule(g.m, kw, g.n, g.group_size)
        measured = [(f["load_start"], f["stream_start"], f["last_output"]) for f in g.folds]
        expected = [(s.load_start, s.stream_start, s.last_output if f["rows"] else -1)
                    for s, f in zip(sched, g.folds, strict=True)]
        assert measured == expected, (cfg.name, g.m, g.k, g.n, g.mode)
        assert sum(bool(f["rows"]) for f in g.folds) == -(-g.m // m_tile) * -(-g.n // cfg.cols)
        assert g.gemm_cycles == g.spec_cycles == spec.gemm_cycles(g.m, kw, g.n, g.group_size)


def check_mode_switching(run: Any, cfg: ArrayConfig, modes: list[str]) -> None:
    """``check_gemm_run`` for a run whose GEMMs switch the multi-format mode: each GEMM ran in
    its mode, and the modes covered lane counts 1, 2 and 4."""
    check_gemm_run(run, cfg, len(modes))
    assert [g.mode for g in run.gemms] == modes
    assert {g.lanes for g in run.gemms} == {1, 2, 4}


def check_bad_example_exits_2(tmp_path: Path, capsys: Any, example: Path,
                              edit: tuple[str, str], field: str) -> None:
    """``example`` with ``edit`` (old, new text) applied: ``mixforge gen array`` exits 2 with
    one line ``mixforge: error: FILE: ...`` naming ``field`` (and the message after it)."""
    from mixforge.cli import main

    text = example.read_text()
    assert edit[0] in text
    bad = tmp_path / example.name
    bad.write_text(text.replace(edit[0], edit[1]))
    assert main(["gen", "array", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mixforge: error: {bad}: ") and field in err
    assert err.count("\n") == 1
