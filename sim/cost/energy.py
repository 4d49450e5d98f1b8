"""Energy of an op: action counts x per-action table + static power x time."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from mixforge.sim.cost.rtl import rtl_mac_pj, rtl_static_w
from mixforge.sim.cost.tables import mac_energy_pj, sram_pj_per_bit
from mixforge.sim.mapping.actions import ActionCounts

if TYPE_CHECKING:
    from mixforge.sim.arch.device import ArchConfig

__all__ = ["EnergyBreakdown", "op_energy"]


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy by component, in joules."""

    mac_j: float = 0.0
    sram_j: float = 0.0
    dram_j: float = 0.0
    activation_j: float = 0.0
    vector_j: float = 0.0
    static_j: float = 0.0

    @property
    def total_j(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                                  for f in fields(self)})


def op_energy(actions: ActionCounts, arch: ArchConfig, seconds: float,
              pe_kind: str | None = None) -> EnergyBreakdown:
    """Energy of ``actions`` on ``arch`` over ``seconds`` of wall time.

    Parameters
    ----------
    pe_kind
        PE family the MACs ran on (defaults to the xPU's); PIM units use ``"fp_mac"`` / ``int_mac``
        energies by format, as no PIM-specific MAC table is published. xPU MACs use the
        RTL-measured PE (``arch.pe_rtl``, :mod:`mixforge.sim.cost.rtl`) when there is one, for
        the MACs of the format pair that PE computes (every pair for multi-format PEs; other
        pairs, e.g. FP16 attention on a W4A8 array, from the table); its leakage adds to the
        static power.
    """
    cfg = arch.energy
    kind = pe_kind or arch.xpu.pe.kind
    rtl = arch.pe_rtl if pe_kind is None else None  # the xPU's PE measured from its RTL
    mac = sum(c * (rtl_mac_pj(rtl, cfg) if rtl is not None and rtl.computes(w, a)
                   else mac_energy_pj(kind, w, a, cfg)) for w, a, c in actions.macs)
    sram = arch.xpu.sram
    sram_pj = (actions.sram_weight_bits * sram_pj_per_bit(sram.weight.size_bytes, cfg)
               + actions.sram_input_bits * sram_pj_per_bit(sram.input.size_bytes, cfg)
               + actions.sram_output_bits * sram_pj_per_bit(sram.output.size_bytes, cfg))
    if arch.xpu.l2 is not None:
        sram_pj += actions.sram_l2_bits * sram_pj_per_bit(arch.xpu.l2.size_bytes, cfg)
    dram_pj = (actions.dram_bits * cfg.e_dram_xpu_pj_per_bit
               + actions.pim_dram_bits * cfg.e_dram_pim_pj_per_bit
               + actions.bank_pim_dram_bits * cfg.e_dram_bank_pim_pj_per_bit)
    static_w = (arch.xpu.static_w + rtl_static_w(arch)
                + (arch.pim.static_w if arch.pim is not None else 0.0))
    return EnergyBreakdown(mac_j=mac * 1e-12, sram_j=sram_pj * 1e-12, dram_j=dram_pj * 1e-12,
                           activation_j=actions.row_activations * cfg.e_act_pj * 1e-12,
                           vector_j=actions.vector_ops * cfg.vector_op_pj * 1e-12,
                           static_j=static_w * seconds)
