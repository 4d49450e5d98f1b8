"""``mixforge formats``: every number format with its bits, range, special values and aliases.

Generated from :mod:`mixforge.models.formats` (the bit-exact reference models decode the
extreme codes), never from a hand-written table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixforge.models.formats import NumberFormat, format_aliases, format_names, get_format

__all__ = ["FormatInfo", "format_info", "all_formats", "render_formats"]


@dataclass(frozen=True)
class FormatInfo:
    """What a user needs to know about one format (values decoded by the reference model)."""

    name: str
    kind: str
    bits: int
    max_value: float
    min_value: float
    min_positive: float
    specials: str
    overflow: str
    aliases: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "bits": self.bits,
                "max": self.max_value, "min": self.min_value,
                "min_positive": self.min_positive, "specials": self.specials,
                "overflow": self.overflow, "aliases": list(self.aliases)}


def _decode(fmt: NumberFormat, code: int) -> float:
    return float(fmt.decode(np.array([code], dtype=fmt.storage_dtype))[0])


def format_info(name: str | NumberFormat) -> FormatInfo:
    """Describe format ``name`` by decoding its extreme codes with the reference model."""
    fmt = get_format(name)
    if fmt.kind == "int":
        lo = -(1 << (fmt.bits - 1)) if fmt.signed else 0
        hi = (1 << (fmt.bits - 1)) - 1 if fmt.signed else fmt.mask
        max_v, min_v, min_pos, specials = float(hi), float(lo), 1.0, "none"
    else:
        max_v = _decode(fmt, fmt.max_code)
        min_v = -max_v
        min_pos = _decode(fmt, 1)  # smallest positive code: subnormal or minpos
        parts = []
        if fmt.kind == "posit":
            parts.append("NaR")
        else:
            if fmt.inf_code is not None:
                parts.append("+-inf")
            if fmt.nan_code is not None:
                parts.append("NaN")
            parts.append("-0")
        specials = ", ".join(parts) if parts else "none"
    return FormatInfo(name=fmt.name, kind=fmt.kind, bits=fmt.bits, max_value=max_v,
                      min_value=min_v, min_positive=min_pos, specials=specials,
                      overflow=fmt.overflow, aliases=tuple(format_aliases(fmt.name)))


def all_formats() -> list[FormatInfo]:
    """The representative formats of :func:`format_names`, plus every ``intN`` of 2..16 bits."""
    names = list(dict.fromkeys([*format_names(), "int16", "uint2", "uint16"]))
    return [format_info(n) for n in names]


def render_formats(infos: list[FormatInfo]) -> str:
    """A plain-text table of ``infos``."""
    head = ("format", "kind", "bits", "range", "smallest > 0", "special values", "overflow",
            "aliases")
    rows = [head]
    for f in infos:
        rng = (f"{f.min_value:g} .. {f.max_value:g}")
        rows.append((f.name, f.kind, str(f.bits), rng, f"{f.min_positive:g}", f.specials,
                     f.overflow, ", ".join(f.aliases) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.append("posit{n}_es{es} (2 <= n <= 32, 0 <= es <= 4) and int{n} / uint{n} "
                 "(2 <= n <= 32) are accepted too.")
    return "\n".join(lines)
