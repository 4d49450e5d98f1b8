"""YAML config framework: unknown keys, dotted paths, schema_version, type checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from mixforge.config import from_dict, load_config, load_yaml, to_dict
from mixforge.errors import ConfigError


@dataclass(frozen=True)
class Array:
    rows: int
    cols: int = 4
    dataflow: Literal["ws", "os"] = "ws"

    def __post_init__(self) -> None:
        if self.rows <= 0:
            raise ConfigError(f"must be a positive integer, not {self.rows}", path="rows")


@dataclass(frozen=True)
class Xpu:
    array: Array
    freq_hz: float = 1e9
    formats: tuple[str, ...] = ("int8",)
    name: str | None = None


@dataclass(frozen=True)
class Hw:
    xpu: Xpu
    cores: list[Xpu] = field(default_factory=list)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hw.yaml"
    p.write_text(text)
    return p


def test_round_trip(tmp_path: Path) -> None:
    p = _write(tmp_path, "schema_version: 1\nxpu:\n  array: {rows: 8, cols: 2}\n"
                         "  freq_hz: 500000000\n  formats: [int4, int8]\n")
    hw = load_config(Hw, p)
    assert hw.xpu.array == Array(rows=8, cols=2)
    assert hw.xpu.freq_hz == 5e8 and isinstance(hw.xpu.freq_hz, float)
    assert hw.xpu.formats == ("int4", "int8")
    assert to_dict(hw)["xpu"]["array"] == {"rows": 8, "cols": 2, "dataflow": "ws"}


@pytest.mark.parametrize("body,message", [
    ("xpu:\n  array: {rows: 8, colz: 2}\n",
     "hw.yaml: xpu.array.colz: unknown key (known keys: rows, cols, dataflow)"),
    ("xpu:\n  array: {rows: -4}\n", "hw.yaml: xpu.array.rows: must be a positive integer, not -4"),
    ("xpu:\n  array: {rows: 4, dataflow: is}\n",
     "hw.yaml: xpu.array.dataflow: must be one of 'ws', 'os', not 'is'"),
    ("xpu:\n  array: {rows: four}\n", "hw.yaml: xpu.array.rows: must be an integer, not 'four'"),
    ("xpu:\n  array: {rows: 4}\n  formats: [int4, 3]\n",
     "hw.yaml: xpu.formats[1]: must be a string, not 3"),
    ("xpu: {}\n", "hw.yaml: xpu.array: missing required key"),
    ("xpu:\n  array: {rows: true}\n", "hw.yaml: xpu.array.rows: must be an integer, not True"),
])
def test_errors_name_file_and_dotted_path(tmp_path: Path, body: str, message: str) -> None:
    p = _write(tmp_path, "schema_version: 1\n" + body)
    with pytest.raises(ConfigError) as info:
        load_config(Hw, p)
    assert str(info.value) == message.replace("hw.yaml", str(p))


def test_schema_version_required_and_checked(tmp_path: Path) -> None:
    p = _write(tmp_path, "xpu: {array: {rows: 1}}\n")
    with pytest.raises(ConfigError, match=r"hw.yaml: schema_version: missing"):
        load_yaml(p)
    p.write_text("schema_version: 7\nxpu: {array: {rows: 1}}\n")
    with pytest.raises(ConfigError, match=r"schema_version: unsupported version 7"):
        load_yaml(p)


def test_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "schema_version: 1\nxpu: [unclosed\n")
    with pytest.raises(ConfigError, match=r"hw.yaml: line \d+: invalid YAML"):
        load_yaml(p)
    with pytest.raises(ConfigError, match=r"nope.yaml: no such file"):
        load_yaml(tmp_path / "nope.yaml")
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping, not list"):
        load_yaml(p)


def test_from_dict_without_file() -> None:
    with pytest.raises(ConfigError, match=r"^array.rows: must be a positive integer, not 0$"):
        from_dict(Xpu, {"array": {"rows": 0}})


def test_exponent_numbers_are_floats(tmp_path: Path) -> None:
    # PyYAML's YAML 1.1 resolver reads 1.83e9 and 1e9 as strings; ours reads them as numbers.
    p = tmp_path / "n.yaml"
    p.write_text("schema_version: 1\na: 1.83e9\nb: 1e9\nc: -2.5E-3\nd: 7\ne: '1e9'\n")
    data = load_yaml(p)
    assert data["a"] == 1.83e9 and isinstance(data["a"], float)
    assert data["b"] == 1e9 and isinstance(data["b"], float)
    assert data["c"] == -2.5e-3
    assert data["d"] == 7 and isinstance(data["d"], int)
    assert data["e"] == "1e9"


@dataclass(frozen=True)
class _Inner:
    size: int = 1


@dataclass(frozen=True)
class _Outer:
    inner: _Inner | None = None


def test_optional_section_error_names_the_field() -> None:
    with pytest.raises(ConfigError) as exc:
        from_dict(_Outer, {"inner": {"size": "big"}}, file="x.yaml")
    assert str(exc.value).startswith("x.yaml: inner.size: must be an integer")
