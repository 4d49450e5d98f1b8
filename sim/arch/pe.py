"""The PE library: which operand-format pairs each PE kind can execute, and at what rate.

A PE *mode* is a (weight format, activation format) pair plus ``lanes``: how many MACs one PE
completes per cycle in that mode (XR-NPE-style SIMD lanes: 4 x FP4 or 2 x posit8 in a 16-bit
datapath). The simulator maps ``lanes`` onto the array's K dimension (each PE consumes ``lanes``
K-elements per cycle), see :func:`mixforge.sim.mapping.cycles.tile_cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError, FormatError
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["PeKind", "PeMode", "PeConfig", "PE_LIBRARY", "check_format"]

PeKind = Literal["int_mac", "shift_add", "simd_mac", "fp_mac", "tensor_core"]

#: Formats each PE kind can implement (weights, activations), from the hw/ PE generators and the
#: papers they follow (PAPERS.md): MixPE shift-and-add takes 2..8-bit integer weights against
#: INT8 or FP16 activations; XR-NPE's SIMD MAC covers FP4 (E2M1) and posit(4,1)/(8,0)/(16,1);
#: an H100-class tensor core covers FP16/BF16, FP8 and INT8.
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


def check_format(name: str, path: str) -> NumberFormat:
    """Resolve ``name`` with ``get_format``; unknown names raise ``ConfigError`` at ``path``."""
    try:
        return get_format(name)
    except FormatError as exc:
        raise ConfigError(str(exc), path=path) from None


@dataclass(frozen=True)
class PeMode:
    """One operating mode of a PE.

    Parameters
    ----------
    w, a
        Weight (stationary / B operand) and activation (streamed / A operand) format names.
    lanes
        MACs per PE per cycle in this mode (>= 1).
    """

    w: str
    a: str
    lanes: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", check_format(self.w, "w").name)
        object.__setattr__(self, "a", check_format(self.a, "a").name)
        if self.lanes < 1:
            raise ConfigError(f"must be >= 1, not {self.lanes}", path="lanes")


@dataclass(frozen=True)
class PeConfig:
    """The processing element of an array.

    Parameters
    ----------
    kind
        PE family from :data:`PE_LIBRARY`.
    modes
        Supported (w, a, lanes) modes; each must be in the library for ``kind``.
    acc_bits
        Accumulator width (partial sums spilled to SRAM/DRAM use this width).
    late_dequant
        MixPE: integer products of one quantization group are accumulated first and dequantized
        once per group (``True``); otherwise weights are dequantized element by element.
    rtl
        Optional ``mixforge synth pe --json`` file of this PE (path relative to the YAML):
        per-MAC energy, leakage and area then come from the measured RTL
        (:mod:`mixforge.sim.cost.rtl`).
    """

    kind: PeKind
    modes: tuple[PeMode, ...]
    acc_bits: int = 32
    late_dequant: bool = False
    rtl: str = ""

    def __post_init__(self) -> None:
        if not self.modes:
            raise ConfigError("must list at least one mode", path="modes")
        w_ok, a_ok = PE_LIBRARY[self.kind]
        for i, mode in enumerate(self.modes):
            if mode.w not in w_ok:
                raise ConfigError(f"PE kind {self.kind!r} does not support weight format "
                                  f"{mode.w!r} (supported: {', '.join(sorted(w_ok))})",
                                  path=f"modes[{i}].w")
            if mode.a not in a_ok:
                raise ConfigError(f"PE kind {self.kind!r} does not support activation format "
                                  f"{mode.a!r} (supported: {', '.join(sorted(a_ok))})",
                                  path=f"modes[{i}].a")
        if self.acc_bits < 8:
            raise ConfigError(f"must be >= 8, not {self.acc_bits}", path="acc_bits")

    def lanes(self, w: str, a: str) -> int:
        """MACs per PE per cycle for formats ``(w, a)``; ``ConfigError`` when unsupported."""
        for mode in self.modes:
            if mode.w == w and mode.a == a:
                return mode.lanes
        have = ", ".join(f"w={m.w} a={m.a}" for m in self.modes)
        raise ConfigError(f"no PE mode for w={w} a={a} (supported: {have})", path="xpu.pe.modes")

    @property
    def max_w_bits(self) -> int:
        return max(get_format(m.w).bits for m in self.modes)
