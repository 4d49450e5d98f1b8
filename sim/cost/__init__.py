"""Energy-per-action tables (counts x table, as Accelergy); every entry cites its source."""

from mixforge.sim.cost.energy import EnergyBreakdown, op_energy
from mixforge.sim.cost.entries import COST_TABLE, CostEntry, at_node
from mixforge.sim.cost.rtl import PeRtl, load_pe_rtl, pe_area, with_pe_rtl
from mixforge.sim.cost.tables import EnergyConfig, MeasuredMac, mac_energy_pj, sram_pj_per_bit

__all__ = ["EnergyConfig", "MeasuredMac", "mac_energy_pj", "sram_pj_per_bit", "EnergyBreakdown",
           "op_energy", "PeRtl", "load_pe_rtl", "with_pe_rtl", "pe_area", "CostEntry",
           "COST_TABLE", "at_node"]
