"""Size a device's PE array to an area: the iso-area comparison of two PE designs.

Area is the RTL area model of :mod:`mixforge.sim.cost.rtl` (synthesized transistors of the PE
core per PE, plus the per-column parts: dequantization / readout), so the answer depends on the
PEs' ``mixforge synth pe --json`` figures (``xpu.pe.rtl``), never on hand-written areas.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from mixforge.errors import ConfigError
from mixforge.sim.cost.rtl import array_transistors

if TYPE_CHECKING:
    from mixforge.sim.arch.device import ArchConfig

__all__ = ["size_to_area", "area_of"]


def size_to_area(arch: ArchConfig, budget_transistors: float, *,
                 path: str = "xpu.area_budget_transistors") -> ArchConfig:
    """``arch`` with its array scaled (aspect ratio kept) to the largest ``rows x cols`` whose
    arrays (all cores) fit ``budget_transistors``.

    Raises ``ConfigError`` at ``path`` without synthesis figures (``xpu.pe.rtl``) or when not
    even a 1 x 1 array fits.
    """
    rtl = arch.pe_rtl
    if rtl is None:
        raise ConfigError("needs the PE's synthesis figures (xpu.pe.rtl or xpu.pe.config with "
                          "an rtl/<name>.synth.json)", path=path)
    if isinstance(budget_transistors, bool) or not budget_transistors > 0:
        raise ConfigError(f"must be positive, not {budget_transistors!r}", path=path)
    xpu = arch.xpu
    r0, c0 = xpu.array.rows, xpu.array.cols
    per_core = budget_transistors / xpu.cores
    core, extra = rtl.core_transistors, rtl.total_transistors - rtl.core_transistors

    def area(r: int, c: int) -> int:
        return core * r * c + extra * c

    if area(1, 1) > per_core:
        raise ConfigError(f"{budget_transistors:,.0f} transistors do not hold one "
                          f"{rtl.name} PE per core ({area(1, 1):,})", path=path)
    # core*r0*c0*s^2 + extra*c0*s = per_core; then the largest integer sizes at or below it
    qa, qb = core * r0 * c0, extra * c0
    s = (-qb + math.sqrt(qb * qb + 4 * qa * per_core)) / (2 * qa)
    r, c = max(1, math.floor(r0 * s)), max(1, math.floor(c0 * s))
    while area(r, c) > per_core and (r > 1 or c > 1):
        r, c = (r - 1, c) if r * c0 >= c * r0 and r > 1 else (r, max(1, c - 1))
    for dr, dc in ((1, 0), (0, 1)):  # grow one side while it still fits
        while area(r + dr, c + dc) <= per_core:
            r, c = r + dr, c + dc
    note = f"sized for {budget_transistors:,.0f} transistors of PE arrays"
    refs = tuple(replace(ref, scaled=f"{ref.scaled}; {note}" if ref.scaled else note)
                 if ref.role == "xpu.array" else ref for ref in arch.refs)
    try:
        return replace(arch, xpu=replace(xpu, array=replace(xpu.array, rows=r, cols=c)),
                       refs=refs)
    except ConfigError as exc:
        raise ConfigError(f"a {r}x{c} array fits the area but not the device: {exc.detail}",
                          path=path) from None


def area_of(arch: ArchConfig) -> int:
    """Transistors of ``arch``'s PE arrays (``ConfigError`` without synthesis figures)."""
    if arch.pe_rtl is None:
        raise ConfigError("needs the PE's synthesis figures (xpu.pe.rtl)", path="xpu.pe.rtl")
    return array_transistors(arch, arch.pe_rtl)
