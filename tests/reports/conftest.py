"""Small sweep specs for the reports tests (fast GEMMs on the shipped MixPE-like device)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "examples" / "hw" / "mixpe_w4a8.yaml"


def write_spec(tmp_path: Path, body: str, name: str = "spec.yaml") -> Path:
    """Write a spec whose base is the MixPE-like device (absolute path) plus ``body``."""
    p = tmp_path / name
    p.write_text(f"schema_version: 1\nkind: op\nbase:\n  hw: {HW}\n"
                 "  op: {m: 16, k: 256, n: 256, w: int4, a: int8, group_size: 128}\n" + body)
    return p


@pytest.fixture
def small_spec(tmp_path: Path) -> Path:
    """12 points: 3 array sizes x 2 M x 2 bandwidths; the 64x64 arrays break an area budget."""
    return write_spec(tmp_path, """name: small
axes:
  hw.xpu.array.rows: [8, 16, 64]
  op.m: [16, 64]
  hw.hbm.data_rate_bps: [5.0e+8, 2.0e+9]
derived:
  hw.xpu.array.cols: hw.xpu.array.rows
constraints:
  - {name: area, expr: "metrics.array_transistors <= 2.0e7"}
""")
