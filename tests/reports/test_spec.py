"""Sweep specs: axis forms, zipped axes, derived fields, constraints, sampling, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_specs import write_spec

from mixforge.errors import ConfigError
from mixforge.reports.spec import load_spec


def test_axis_forms_and_derived(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, """axes:
  hw.xpu.array.rows: {log_range: [8, 64], factor: 2}
  op.k: {range: [256, 1024, 256]}
  hw.hbm.data_rate_bps: {linspace: [5.0e+8, 1.0e+9, 3]}
  shape: {zip: {op.m: [1, 64], op.n: [512, 1024]}}
derived:
  hw.xpu.array.cols: hw.xpu.array.rows * 2
"""))
    pts = spec.points()
    assert spec.grid_size() == 4 * 4 * 3 * 2 == len(pts)
    assert sorted({p.axes["hw.xpu.array.rows"] for p in pts}) == [8, 16, 32, 64]
    assert sorted({p.axes["op.k"] for p in pts}) == [256, 512, 768, 1024]
    assert sorted({p.axes["hw.hbm.data_rate_bps"] for p in pts}) == [5e8, 7.5e8, 1e9]
    assert {(p.config["op"]["m"], p.config["op"]["n"]) for p in pts} == {(1, 512), (64, 1024)}
    for p in pts:
        assert p.config["hw"]["xpu"]["array"]["cols"] == 2 * p.config["hw"]["xpu"]["array"]["rows"]
    assert len({p.key for p in pts}) == len(pts)

    # the key hashes the whole resolved config: a change outside the axes changes every key
    other = load_spec(write_spec(tmp_path, spec.raw and _yaml(spec.raw, freq=1e9) or "",
                                 "other.yaml"))
    assert not {p.key for p in pts} & {p.key for p in other.points()}


def _yaml(raw: dict, freq: float) -> str:
    import yaml

    body = {k: v for k, v in raw.items() if k not in ("base", "kind")}
    body["set"] = {"hw.xpu.freq_hz": freq}
    return yaml.safe_dump(body)


def test_pre_constraint_marks_infeasible_not_dropped(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, """axes:
  hw.xpu.array.rows: [8, 16, 32]
constraints:
  - "hw.xpu.array.rows * hw.xpu.array.cols <= 16 * 64"
"""))
    pts = spec.points()
    assert len(pts) == 3
    assert [p.infeasible is not None for p in pts] == [False, False, True]


@pytest.mark.parametrize("method", ["random", "lhs"])
def test_sampling_is_seeded(tmp_path: Path, method: str) -> None:
    body = f"""axes:
  hw.xpu.array.rows: {{range: [8, 128, 8]}}
  op.k: {{range: [128, 4096, 128]}}
sample: {{method: {method}, n: 16, seed: 7}}
"""
    a = [p.key for p in load_spec(write_spec(tmp_path, body)).points()]
    b = [p.key for p in load_spec(write_spec(tmp_path, body, "b.yaml")).points()]
    assert a == b and 1 < len(a) <= 16
    if method == "lhs":  # one sample per stratum: 16 distinct rows out of 16 values
        rows = [p.axes["hw.xpu.array.rows"]
                for p in load_spec(write_spec(tmp_path, body)).points()]
        assert len(set(rows)) == 16


@pytest.mark.parametrize("body, where", [
    ("axes:\n  hw.xpu.array.rowz: [1, 2]\n", "axes.hw.xpu.array.rowz"),
    ("axes:\n  hw.pim.lanes: [1, 2]\n", "axes.hw.pim.lanes"),
    ("axes:\n  op.m: {range: [1, 2]}\n", "axes.op.m.range"),
    ("axes:\n  s: {zip: {op.m: [1, 2], op.n: [1]}}\n", "axes.s"),
    ("constraints: [\"__import__('os')\"]\n", "constraints[0]"),
    ("constraints: [\"foo.bar < 1\"]\n", "constraints[0]"),
    ("metrics: [seconds, joules]\n", "metrics[1]"),
    ("constraints: [\"metrics.area <= 1\"]\n", "constraints[0]"),
    ("sample: {method: lhs}\n", "sample.n"),
    ("axez: {}\n", "axez"),
])
def test_errors_name_file_and_field(tmp_path: Path, body: str, where: str) -> None:
    path = write_spec(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    assert exc.value.file == str(path)
    assert exc.value.path == where, str(exc.value)
