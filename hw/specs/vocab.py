"""The one PE vocabulary shared by hw/ and sim/: families, RTL cell kinds, built formats.

Two levels name a processing element:

* a **family** (:data:`PeFamily`) is what the simulator models: ``int_mac``, ``shift_add``,
  ``simd_mac``, ``fp_mac``, ``tensor_core``. :data:`PE_LIBRARY` is the envelope of operand
  formats a *hand-modelled* PE of a family may claim (papers, vendor whitepapers);
* a **cell kind** (:data:`CellKind`) is what the RTL generates: the cell of a
  :class:`mixforge.hw.array.PEArray` (``examples/array/*.yaml`` ``array.pe``), or a single PE
  generator kind (``examples/pe/*.yaml`` ``pe.kind``, :data:`PE_GENERATOR_CELL`). Every cell
  kind belongs to one family (:data:`CELL_FAMILY`) and builds the (weight, activation, lanes)
  modes :func:`cell_modes` returns for its parameters.

:func:`rtl_family_modes` is the union of what the RTL can build for a family: the simulator
rejects a PE mode outside it unless the mode (or the whole PE) is marked ``modelled``.
Format names are the models/ names (``int4``, ``float16``, ``posit8_es0``, ...).
"""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args

from mixforge.errors import ConfigError

__all__ = ["PeFamily", "PE_FAMILIES", "CellKind", "CELL_KINDS", "CELL_FAMILY", "PE_GENERATOR_CELL",
           "PE_LIBRARY", "SIMD_MODES", "Mode", "cell_modes", "rtl_family_modes",
           "pe_generator_modes", "MODELLED"]

#: Simulator PE families.
PeFamily = Literal["int_mac", "shift_add", "simd_mac", "fp_mac", "tensor_core"]
PE_FAMILIES: tuple[str, ...] = get_args(PeFamily)
#: Cell kinds of the generated PE array (``hw/array/config.py`` ``ArrayConfig.pe``).
CellKind = Literal["shift_add", "posit8", "dequant_first", "multiformat", "fp16_mac",
                   "shared_quire", "separate_macs"]
CELL_KINDS: tuple[str, ...] = get_args(CellKind)

#: The simulator family each RTL cell kind implements. ``dequant_first`` cells are INT8 x INT8
#: multipliers (the weights become INT8 at the column edge); ``fp16_mac`` FP16 x FP16 MACs fed
#: dequantized weights; ``posit8`` and the XR-NPE words are posit / FP4 MACs.
CELL_FAMILY: dict[str, str] = {
    "shift_add": "shift_add", "dequant_first": "int_mac", "fp16_mac": "fp_mac",
    "posit8": "simd_mac", "multiformat": "simd_mac", "shared_quire": "simd_mac",
    "separate_macs": "simd_mac"}

#: Single-PE generator kinds (``hw/pe/specs.py`` ``SPEC_KINDS``) -> the array cell kind that
#: computes the same function.
PE_GENERATOR_CELL: dict[str, str] = {
    "shift_add": "shift_add", "mul_dequant_first": "dequant_first", "fp16_mac": "fp16_mac",
    "multiformat": "multiformat", "shared_quire": "shared_quire",
    "separate_macs": "separate_macs"}

#: XR-NPE SIMD word modes (``models.pe.MODES``): format of both operands and lanes per 16-bit word.
SIMD_MODES: dict[str, tuple[str, int]] = {
    "fp4x4": ("float4_e2m1fn", 4), "p4x4": ("posit4_es1", 4), "p8x2": ("posit8_es0", 2),
    "p16x1": ("posit16_es1", 1)}

#: A built mode: (weight format, activation format, MACs per PE per cycle).
Mode = tuple[str, str, int]

#: Label of every figure that no RTL config backs.
MODELLED = "modelled, no RTL"

#: Formats a hand-modelled PE of each family may claim (weights, activations), from the hw/ PE
#: generators and the papers they follow (PAPERS.md): MixPE shift-and-add takes 2..8-bit
#: integer weights against INT8 or FP16 activations; XR-NPE's SIMD MAC covers FP4 (E2M1) and
#: posit(4,1)/(8,0)/(16,1); an H100-class tensor core covers FP16/BF16, FP8 and INT8
#: (H100 whitepaper).
PE_LIBRARY: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "int_mac": (frozenset({"int2", "int4", "int8", "uint4", "uint8"}),
                frozenset({"int4", "int8", "uint8"})),
    "shift_add": (frozenset({"int2", "int4", "int8", "uint2", "uint4"}),
                  frozenset({"int8", "float16"})),
    "simd_mac": (frozenset({"float4_e2m1fn", "posit4_es1", "posit8_es0", "posit16_es1"}),
                 frozenset({"float4_e2m1fn", "posit4_es1", "posit8_es0", "posit16_es1"})),
    "fp_mac": (frozenset({"float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float32"}),
               frozenset({"float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float32"})),
    "tensor_core": (frozenset({"float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int8",
                               "int4", "float4_e2m1fn"}),
                    frozenset({"float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "int8"})),
}

#: Integer operand widths the array generator takes (``ArrayConfig.w_bits`` / ``a_bits``).
_INT_BITS = range(2, 9)


def cell_modes(cell: str, *, w_bits: int = 4, a_bits: int = 8,
               act: str = "int") -> tuple[Mode, ...]:
    """Modes one generated array cell builds (``ArrayConfig`` parameters).

    Weights are ``w_bits``-bit two's complement integers (``models.pe.decode_weight``) for the
    integer-weight kinds; ``act: fp16`` (shift-and-add W(k)A16) streams FP16 activations.
    """
    if cell not in CELL_FAMILY:
        raise ConfigError(f"must be one of {', '.join(CELL_KINDS)}, not {cell!r}", path="pe")
    w = f"int{w_bits}"
    if cell == "shift_add":
        return ((w, "float16" if act == "fp16" else f"int{a_bits}", 1),)
    if cell == "dequant_first":
        return ((w, f"int{a_bits}", 1),)
    if cell == "fp16_mac":
        return ((w, "float16", 1),)
    if cell == "posit8":
        return (("posit8_es0", "posit8_es0", 1),)
    return tuple((f, f, lanes) for f, lanes in SIMD_MODES.values())


def pe_generator_modes(kind: str, spec: object) -> tuple[Mode, ...]:
    """Modes a single-PE generator spec (``hw/pe/specs.py``) builds: ``k``-bit weights against
    INT8 (``shift_add act: int8``, ``mul_dequant_first``) or FP16 activations."""
    cell = PE_GENERATOR_CELL.get(kind)
    if cell is None:
        raise ConfigError(f"must be one of {', '.join(PE_GENERATOR_CELL)}, not {kind!r}",
                          path="pe.kind")
    k = getattr(spec, "k", 4)
    act = "fp16" if getattr(spec, "act", "int8") == "fp16" else "int"
    return cell_modes(cell, w_bits=k, a_bits=8, act=act)


@cache
def rtl_family_modes(family: str) -> frozenset[Mode]:
    """Every mode some RTL cell of ``family`` builds, over all generator parameters."""
    out: set[Mode] = set()
    for cell, fam in CELL_FAMILY.items():
        if fam != family:
            continue
        for wb in _INT_BITS:
            for ab in _INT_BITS:
                out.update(cell_modes(cell, w_bits=wb, a_bits=ab))
            out.update(cell_modes(cell, w_bits=wb, act="fp16"))
    return frozenset(out)
