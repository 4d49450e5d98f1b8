"""Fixtures of the reports tests (helpers live in ``sweep_specs``, importable by tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_specs import write_spec


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
