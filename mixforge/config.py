"""YAML -> frozen dataclasses, with errors that name the file and the dotted field path.

Every config file carries ``schema_version``; unknown keys are rejected; values are checked
against the dataclass field types (int, float, bool, str, Literal, tuples, nested dataclasses,
``X | None``), and a dataclass's own ``__post_init__`` can raise ``ConfigError(msg, path=field)``
for range checks -- :func:`from_dict` prefixes the path of the enclosing field and the file name.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Array:
...     rows: int
...     cols: int = 4
>>> from_dict(Array, {"rows": 8}, file="hw.yaml", path="xpu.array")
Array(rows=8, cols=4)
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from mixforge.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "load_yaml", "from_dict", "load_config", "to_dict"]

#: The config schema version this release reads.
SCHEMA_VERSION = 1

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e9`` / ``1.83e9`` as floats (YAML 1.2; PyYAML's 1.1 resolver
    wants a dot and a signed exponent, so ``1.83e9`` would silently become a string), and that
    rejects duplicate keys in a mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # YAML merge keys (<<) first, as the base class does
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(path: str | Path, *, require_schema: bool = True) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; check ``schema_version`` and drop it from the result.

    Raises ``ConfigError`` naming the file for a missing file, a YAML syntax error (with line),
    a top level that is not a mapping, or a missing / unsupported ``schema_version``.
    """
    p = Path(path)
    file = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a YAML file", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a text file (byte {exc.start} is not UTF-8)", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}invalid YAML: {problem}", file=file) from None
    if not isinstance(data, dict):
        raise ConfigError(f"top level must be a mapping, not {type(data).__name__}", file=file)
    version = data.pop("schema_version", None)
    if require_schema:
        if version is None:
            raise ConfigError(f"missing (this mixforge reads {SCHEMA_VERSION})",
                              file=file, path="schema_version")
        if version != SCHEMA_VERSION:
            raise ConfigError(f"unsupported version {version!r} (this mixforge reads "
                              f"{SCHEMA_VERSION})", file=file, path="schema_version")
    return data


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _convert(tp: Any, value: Any, file: str | None, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[ConfigError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, file, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:  # `X | None`: X's own error, with its full dotted path
            raise errors[0]
        raise ConfigError(f"must be one of {' | '.join(_type_name(a) for a in args)}, "
                          f"not {value!r}", file=file, path=path)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"must be one of {', '.join(repr(a) for a in allowed)}, "
                              f"not {value!r}", file=file, path=path)
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"must be a list, not {value!r}", file=file, path=path)
        args = get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, file, _join(path, i)) for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"must have {len(args)} items, not {len(value)}",
                                  file=file, path=path)
            return tuple(_convert(a, v, file, _join(path, i))
                         for i, (a, v) in enumerate(zip(args, value, strict=True)))
        elem = args[0] if args else Any
        return tuple(_convert(elem, v, file, _join(path, i)) for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"must be a mapping, not {value!r}", file=file, path=path)
        args = get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, file, _join(path, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, file=file, path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"must be true or false, not {value!r}", file=file, path=path)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"must be an integer, not {value!r}", file=file, path=path)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"must be a number, not {value!r}", file=file, path=path)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, not {value!r}", file=file, path=path)
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"must be {_type_name(tp)}, not {value!r}", file=file, path=path)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints evaluates string annotations each call (60% of a config load); a class's
    # hints never change, so sweeps that build thousands of configs look them up once
    return get_type_hints(cls)


def from_dict(cls: type[T], data: Any, *, file: str | None = None, path: str = "") -> T:
    """Build frozen dataclass ``cls`` from mapping ``data``, rejecting unknown keys.

    Errors raised by ``cls.__post_init__`` as ``ConfigError(msg, path="field")`` are re-raised
    with the enclosing path and file: ``hw.yaml: xpu.array.rows: must be positive, not -4``.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not isinstance(data, dict):
        raise ConfigError(f"must be a mapping, not {data!r}", file=file, path=path or None)
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        known = ", ".join(fields)
        raise ConfigError(f"unknown key (known keys: {known})", file=file,
                          path=_join(path, str(unknown[0])))
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], file, _join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError("missing required key", file=file, path=_join(path, name))
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        if exc.file is not None:
            raise
        inner = exc.path or ""
        full = _join(path, inner) if inner else (path or None)
        raise ConfigError(exc.detail, file=file, path=full) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file=file, path=path or None) from None


def load_config(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """``from_dict(cls, load_yaml(path)[section])``: one call from a YAML file to a dataclass."""
    data = load_yaml(path)
    file = str(path)
    if section is not None:
        if section not in data:
            raise ConfigError("missing required key", file=file, path=section)
        data = data[section]
    return from_dict(cls, data, file=file, path=section or "")


def to_dict(obj: Any) -> Any:
    """Plain JSON/YAML-serialisable view of a config dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj

