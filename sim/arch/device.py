"""The whole device (xPU + HBM + optional PIM + energy table) and its YAML loader."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixforge.config import from_dict, load_yaml, to_dict
from mixforge.errors import ConfigError
from mixforge.sim.arch.hbm import HBM_PRESETS, HbmConfig
from mixforge.sim.arch.pim import PimDeviceConfig
from mixforge.sim.arch.refs import RtlRef, resolve_refs
from mixforge.sim.arch.xpu import XpuConfig
from mixforge.sim.cost.rtl import PeRtl, load_pe_rtl
from mixforge.sim.cost.tables import EnergyConfig

__all__ = ["ArchConfig", "load_arch", "arch_from_dict"]


@dataclass(frozen=True)
class ArchConfig:
    """A simulated device.

    Parameters
    ----------
    name
        Label used in reports.
    xpu
        The compute die.
    hbm
        The memory system (``hbm: {preset: hbm3, ...}`` in YAML starts from a preset).
    pim
        Optional PIM units (Duplex logic-PIM or bank-PIM).
    energy
        Energy-per-action table parameters.
    pe_rtl
        Synthesis figures of the xPU's PE (loaded from ``xpu.pe.rtl`` by :func:`load_arch`, or
        attached with :func:`mixforge.sim.cost.rtl.with_pe_rtl`).
    refs
        The RTL configs the YAML referenced (:mod:`mixforge.sim.arch.refs`), set by
        :func:`arch_from_dict`; empty for a hand-written ("modelled, no RTL") device.
    """

    name: str
    xpu: XpuConfig
    hbm: HbmConfig
    pim: PimDeviceConfig | None = None
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    pe_rtl: PeRtl | None = None
    refs: tuple[RtlRef, ...] = ()

    def __post_init__(self) -> None:
        if self.pim is not None:
            try:
                self.pim.check_hbm(self.hbm)
            except ConfigError as exc:
                raise ConfigError(exc.detail, path=f"pim.{exc.path}") from None

    @property
    def xpu_banks(self) -> tuple[int, int] | None:
        """Bank-in-group range ``[lo, hi)`` holding the xPU's data (``None``: every bank)."""
        if self.pim is None:
            return None
        xpu, _ = self.pim.bank_ranges(self.hbm)
        return None if xpu == (0, self.hbm.banks_per_group) else xpu

    @property
    def pim_banks(self) -> tuple[int, int] | None:
        """Bank-in-group range of the PIM's data (``None``: every bank, or no PIM)."""
        if self.pim is None:
            return None
        _, pim = self.pim.bank_ranges(self.hbm)
        return None if pim == (0, self.hbm.banks_per_group) else pim


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve_presets(data: dict[str, Any], file: str | None) -> dict[str, Any]:
    hbm = data.get("hbm")
    if isinstance(hbm, dict) and "preset" in hbm:
        over = dict(hbm)
        name = over.pop("preset")
        if name not in HBM_PRESETS:
            raise ConfigError(f"unknown preset {name!r} (known: {', '.join(HBM_PRESETS)})",
                              file=file, path="hbm.preset")
        base = to_dict(HBM_PRESETS[name])
        if "source" not in over:
            base["source"] = f"preset {name}: {base['source']}"
        data = {**data, "hbm": _merge(base, over)}
    return data


def arch_from_dict(data: dict[str, Any], *, file: str | None = None) -> ArchConfig:
    """Build an :class:`ArchConfig` from a mapping (``schema_version`` already removed)."""
    if not isinstance(data, dict):
        raise ConfigError(f"must be a mapping, not {data!r}", file=file)
    data, refs = resolve_refs(data, file)
    arch = from_dict(ArchConfig, _resolve_presets(data, file), file=file)
    if refs:  # a resolved device (``to_dict(arch)``) keeps the refs it carries
        arch = dataclasses.replace(arch, refs=refs)
    if arch.xpu.pe.rtl and arch.pe_rtl is None:
        rel = Path(arch.xpu.pe.rtl)
        where = rel if rel.is_absolute() or file is None else Path(file).parent / rel
        if not where.is_file():
            raise ConfigError(f"no such file: {where}", file=file, path="xpu.pe.rtl")
        arch = dataclasses.replace(arch, pe_rtl=load_pe_rtl(where))
    if arch.xpu.area_budget_transistors:
        from mixforge.sim.arch.isoarea import size_to_area

        try:
            arch = size_to_area(arch, arch.xpu.area_budget_transistors)
        except ConfigError as exc:
            raise ConfigError(exc.detail, file=file, path=exc.path) from None
    return arch


def load_arch(path: str | Path) -> ArchConfig:
    """Load a hardware YAML file (``schema_version: 1``).

    Raises ``ConfigError`` naming the file and dotted path for unknown keys, wrong types, and
    hardware that cannot work (SRAM below one tile, a format the PE does not support, zero
    bandwidth, tRFC >= tREFI, ...). ``xpu.pe.rtl`` is read relative to the YAML's folder.
    """
    file = str(path)
    data = load_yaml(path)
    return arch_from_dict(data, file=file)
