"""Helpers of the reports tests: small sweep specs on the shipped MixPE-like device."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "examples" / "hw" / "mixpe_w4a8.yaml"


def write_spec(tmp_path: Path, body: str, name: str = "spec.yaml") -> Path:
    """Write a spec whose base is the MixPE-like device (absolute path) plus ``body``."""
    p = tmp_path / name
    p.write_text(f"schema_version: 1\nkind: op\nbase:\n  hw: {HW}\n"
                 "  op: {m: 16, k: 256, n: 256, w: int4, a: int8, group_size: 128}\n" + body)
    return p
