"""Safe arithmetic expressions over a point's resolved config, for derived fields and constraints.

``hw.xpu.array.rows * hw.xpu.array.cols <= 4096`` or ``metrics.array_transistors <= 2.0e8``:
names are the config's top-level sections (plus ``metrics`` after evaluation), attributes walk
into mappings, ``[i]`` into lists. Allowed: numbers, strings, + - * / // % **, comparisons,
``and`` / ``or`` / ``not``, ``x if c else y`` and the functions of :data:`FUNCTIONS`. Anything
else (calls of other names, dunder access, lambdas, comprehensions) is rejected when the spec is
loaded, so a sweep never executes arbitrary code from a YAML file.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["Expr", "FUNCTIONS"]

#: Functions an expression may call.
FUNCTIONS: dict[str, Any] = {
    "min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float,
    "sqrt": math.sqrt, "isqrt": math.isqrt, "log2": math.log2, "log10": math.log10,
    "ceil": math.ceil, "floor": math.floor,
}

_Bin = Callable[[Any, Any], Any]
_BIN: dict[type, _Bin] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow}
_CMP: dict[type, _Bin] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


class _Missing(Exception):
    """A name or field the expression reads is absent (``None`` when ``missing_ok``)."""


@dataclass(frozen=True)
class Expr:
    """A parsed expression; :meth:`__call__` evaluates it over a mapping of sections.

    Parameters
    ----------
    text
        The source text.
    file, path
        Where the expression was written (for error messages).
    """

    text: str
    file: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"invalid expression {self.text!r}: {exc.msg}",
                              file=self.file, path=self.path) from None
        for node in ast.walk(tree):
            self._check(node)
        object.__setattr__(self, "_tree", tree.body)

    def _check(self, node: ast.AST) -> None:
        ok = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Attribute, ast.Subscript,
              ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Tuple,
              ast.List, ast.And, ast.Or, *_BIN, *_CMP, *_UNARY)
        if not isinstance(node, ok):
            raise ConfigError(f"{type(node).__name__} is not allowed in expression "
                              f"{self.text!r}", file=self.file, path=self.path)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ConfigError(f"private field {node.attr!r} in {self.text!r}",
                              file=self.file, path=self.path)
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                               and node.func.id in FUNCTIONS and not node.keywords):
            raise ConfigError(f"only {', '.join(FUNCTIONS)} may be called in {self.text!r}",
                              file=self.file, path=self.path)

    def names(self) -> set[str]:
        """Top-level names read (``{"hw", "metrics"}``), function names excluded."""
        tree: ast.AST = object.__getattribute__(self, "_tree")
        calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}

    def __call__(self, env: Mapping[str, Any]) -> Any:
        """Value of the expression; ``ConfigError`` naming the expression when it cannot be
        evaluated (a missing field, a type error, division by zero)."""
        try:
            return self._eval(object.__getattribute__(self, "_tree"), env)
        except _Missing as exc:
            raise ConfigError(f"{self.text!r}: no field {exc}", file=self.file,
                              path=self.path) from None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, IndexError) as exc:
            raise ConfigError(f"{self.text!r}: {exc}", file=self.file, path=self.path) from None

    def _eval(self, node: ast.AST, env: Mapping[str, Any]) -> Any:
        ev = self._eval
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise _Missing(node.id)
            return env[node.id]
        if isinstance(node, ast.Attribute):
            base = ev(node.value, env)
            if not isinstance(base, Mapping) or node.attr not in base:
                raise _Missing(ast.unparse(node))
            return base[node.attr]
        if isinstance(node, ast.Subscript):
            return ev(node.value, env)[ev(node.slice, env)]
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](ev(node.left, env), ev(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](ev(node.operand, env))
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(ev(v, env) for v in node.values)
            return any(ev(v, env) for v in node.values)
        if isinstance(node, ast.Compare):
            left = ev(node.left, env)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp, env)
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body, env) if ev(node.test, env) else ev(node.orelse, env)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return FUNCTIONS[node.func.id](*(ev(a, env) for a in node.args))
        if isinstance(node, ast.Tuple | ast.List):
            return [ev(e, env) for e in node.elts]
        raise ConfigError(f"cannot evaluate {ast.unparse(node)!r}", file=self.file,
                          path=self.path)
