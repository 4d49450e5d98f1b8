"""The built-in cost-table entries, each with its value, node and source (one auditable list).

:mod:`mixforge.sim.cost.tables` takes its constants from here; :func:`at_node` lists every entry
at a device's node (``energy.node_nm``), scaled by :mod:`mixforge.sim.cost.scaling` where the
entry is a logic or SRAM figure, unchanged (and saying why) where it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixforge.sim.cost.scaling import node_factor

__all__ = ["CostEntry", "COST_TABLE", "entry", "at_node"]


@dataclass(frozen=True)
class CostEntry:
    """One table entry.

    Parameters
    ----------
    name, value, unit
        Key, figure and its unit.
    node_nm
        Technology node the figure was measured at (``None``: not a CMOS-logic figure).
    scaling
        Kind key of :data:`mixforge.sim.cost.scaling.J21_RATIO_7NM` used to scale it to another
        node, or ``None`` when it is used as it is (``source`` says why).
    source
        Where the figure comes from (the keys are defined in :mod:`mixforge.sim.cost.tables`).
    """

    name: str
    value: float
    unit: str
    node_nm: float | None
    scaling: str | None
    source: str


_H14 = "[H14] Horowitz ISSCC 2014, 45 nm"
_DPX = ("[DPX] Duplex (MICRO 2024) simulator defaults for HBM3: a DRAM-process / interface "
        "figure, not scaled with the logic node")

#: Every built-in entry.
COST_TABLE: tuple[CostEntry, ...] = (
    CostEntry("int8_add", 0.03, "pJ", 45, "int8_add", _H14),
    CostEntry("int32_add", 0.1, "pJ", 45, "int32_add", _H14),
    CostEntry("fp16_add", 0.4, "pJ", 45, "fp16_add", _H14),
    CostEntry("fp32_add", 0.9, "pJ", 45, "fp32_add", _H14),
    CostEntry("int8_mul", 0.2, "pJ", 45, "int8_mul", _H14),
    CostEntry("int32_mul", 3.1, "pJ", 45, "int32_mul", _H14),
    CostEntry("fp16_mul", 1.1, "pJ", 45, "fp16_mul", _H14),
    CostEntry("fp32_mul", 3.7, "pJ", 45, "fp32_mul", _H14),
    CostEntry("sram_8k", 10.0, "pJ per 64-bit read", 45, "sram_8k", _H14),
    CostEntry("sram_32k", 20.0, "pJ per 64-bit read", 45, "sram_32k", _H14),
    CostEntry("sram_1m", 100.0, "pJ per 64-bit read", 45, "sram_1m", _H14),
    CostEntry("dram_xpu", 891.0 / 256, "pJ/bit", None, None, _DPX + " (0.891 nJ per 32 B)"),
    CostEntry("dram_logic_pim", 464.0 / 256, "pJ/bit", None, None,
              _DPX + " (0.464 nJ per 32 B)"),
    CostEntry("dram_bank_pim", 187.0 / 256, "pJ/bit", None, None,
              _DPX + " (0.187 nJ per 32 B)"),
    CostEntry("row_activation", 909.0, "pJ", None, None, _DPX + " (0.909 nJ)"),
    CostEntry("leak_per_transistor", 0.69 / 4, "nW", 130, None,
              "[PET] vsclib 0.13 um NAND2 leakage / 4 transistors; not scaled (leakage per "
              "transistor does not follow the dynamic-energy factors)"),
)

_BY_NAME = {e.name: e for e in COST_TABLE}


def entry(name: str) -> CostEntry:
    """The entry called ``name``."""
    return _BY_NAME[name]


def at_node(node_nm: float) -> list[tuple[CostEntry, float]]:
    """Every entry with its value at ``node_nm`` (unscaled entries keep their value)."""
    return [(e, e.value * node_factor(e.scaling, node_nm) if e.scaling else e.value)
            for e in COST_TABLE]
