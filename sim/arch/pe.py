"""The PE library: which operand-format pairs each PE kind can execute, and at what rate.

A PE *mode* is a (weight format, activation format) pair plus ``lanes``: how many MACs one PE
completes per cycle in that mode (XR-NPE-style SIMD lanes: 4 x FP4 or 2 x posit8 in a 16-bit
datapath). The simulator maps ``lanes`` onto the array's K dimension (each PE consumes ``lanes``
K-elements per cycle), see :func:`mixforge.sim.mapping.cycles.tile_cycles`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixforge.errors import ConfigError, FormatError
from mixforge.hw.specs.vocab import PE_LIBRARY, PeFamily, rtl_family_modes
from mixforge.models.formats import NumberFormat, get_format

__all__ = ["PeKind", "PeMode", "PeConfig", "PE_LIBRARY", "check_format"]

#: The PE families and their modelled format envelope live in the shared vocabulary
#: (``mixforge.hw.specs.vocab``); ``PeKind`` is the family, kept under its old name.
PeKind = PeFamily


def _summary(modes: frozenset[tuple[str, str, int]]) -> str:
    """Built modes grouped: ``w=int2|int4 a=int8|float16``."""
    acts: dict[tuple[str, int], set[str]] = {}
    for w, a, n in modes:
        acts.setdefault((w, n), set()).add(a)
    by: dict[tuple[tuple[str, ...], int], list[str]] = {}
    for (w, n), a_set in sorted(acts.items()):
        by.setdefault((tuple(sorted(a_set)), n), []).append(w)
    return "; ".join(f"w={'|'.join(ws)} a={'|'.join(a_s)}" + (f" lanes={n}" if n != 1 else "")
                     for (a_s, n), ws in sorted(by.items()))


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
    modelled
        Hand-modelled: no RTL builds this mode (it must still be in the family's
        :data:`PE_LIBRARY` envelope); outputs label it "modelled, no RTL".
    """

    w: str
    a: str
    lanes: int = 1
    modelled: bool = False

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
        PE family (:data:`mixforge.hw.specs.vocab.PeFamily`).
    modes
        Supported (w, a, lanes) modes. Each format pair must be one the RTL builds for
        ``kind`` (:func:`mixforge.hw.specs.vocab.rtl_family_modes`), unless the mode (or the
        whole PE) is ``modelled``; modelled modes must lie in the family's :data:`PE_LIBRARY`
        envelope. A lane count the RTL does not build makes the mode modelled.
        Families without any RTL generator (``tensor_core``) are modelled throughout.
    acc_bits
        Accumulator width (partial sums spilled to SRAM/DRAM use this width).
    late_dequant
        MixPE: integer products of one quantization group are accumulated first and dequantized
        once per group (``True``); otherwise weights are dequantized element by element.
    rtl
        Optional ``mixforge synth pe --json`` file of this PE (path relative to the YAML):
        per-MAC energy, leakage and area then come from the measured RTL
        (:mod:`mixforge.sim.cost.rtl`).
    modelled
        The whole PE is hand-modelled (no RTL): every mode is checked against
        :data:`PE_LIBRARY` only.
    """

    kind: PeKind
    modes: tuple[PeMode, ...]
    acc_bits: int = 32
    late_dequant: bool = False
    rtl: str = ""
    modelled: bool = False

    def __post_init__(self) -> None:
        if not self.modes:
            raise ConfigError("must list at least one mode", path="modes")
        if self.kind not in PE_LIBRARY:
            raise ConfigError(f"must be one of {', '.join(PE_LIBRARY)}, not {self.kind!r}",
                              path="kind")
        w_ok, a_ok = PE_LIBRARY[self.kind]
        built = rtl_family_modes(self.kind)
        pairs = {(w, a) for w, a, _ in built}
        for i, mode in enumerate(self.modes):
            if (mode.w, mode.a) in pairs:  # other lanes than the RTL's: labelled modelled
                continue
            if mode.w not in w_ok:
                raise ConfigError(f"PE kind {self.kind!r} does not support weight format "
                                  f"{mode.w!r} (supported: {', '.join(sorted(w_ok))})",
                                  path=f"modes[{i}].w")
            if mode.a not in a_ok:
                raise ConfigError(f"PE kind {self.kind!r} does not support activation format "
                                  f"{mode.a!r} (supported: {', '.join(sorted(a_ok))})",
                                  path=f"modes[{i}].a")
            if built and not (mode.modelled or self.modelled):
                raise ConfigError(f"the RTL builds no {self.kind} PE for w={mode.w} a={mode.a} "
                                  f"(RTL modes: {_summary(built)}); mark the "
                                  "mode 'modelled: true' to simulate it by hand",
                                  path=f"modes[{i}]")
        if self.acc_bits < 8:
            raise ConfigError(f"must be >= 8, not {self.acc_bits}", path="acc_bits")

    def lanes(self, w: str, a: str) -> int:
        """MACs per PE per cycle for formats ``(w, a)``; ``ConfigError`` when unsupported."""
        for mode in self.modes:
            if mode.w == w and mode.a == a:
                return mode.lanes
        have = ", ".join(f"w={m.w} a={m.a}" for m in self.modes)
        raise ConfigError(f"no PE mode for w={w} a={a} (supported: {have})", path="xpu.pe.modes")

    def is_modelled(self, w: str, a: str) -> bool:
        """True when mode ``(w, a)`` has no RTL behind it: marked ``modelled``, a family
        without RTL, or a lane count no RTL cell of the family builds for the pair."""
        if self.modelled:
            return True
        built = rtl_family_modes(self.kind)
        return any(m.modelled or (m.w, m.a, m.lanes) not in built
                   for m in self.modes if m.w == w and m.a == a)

    @property
    def max_w_bits(self) -> int:
        return max(get_format(m.w).bits for m in self.modes)
