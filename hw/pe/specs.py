"""Pure-Python specs of the PE library: parameters, validation, latency and throughput.

No Amaranth import: sim/ reads PE latency/throughput from here, and the Amaranth components in
``mixforge.hw.pe`` take these specs, so the two can never disagree.

A PE YAML file (``mixforge gen|verify|synth pe --config F``)::

    schema_version: 1
    name: shift_add_w4a8          # Verilog module / file name
    pe:
      kind: shift_add             # shift_add | mul_dequant_first | fp16_mac | multiformat
                                  # | shared_quire | separate_macs
      k: 4                        # the kind's parameters (see the spec classes)
      act: int8
      group: 128
      out: float32
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["ShiftAddSpec", "DequantFirstSpec", "FP16MacSpec", "MultiFormatSpec",
           "SharedQuireSpec", "SeparateMacsSpec", "PESpec", "PEConfig", "SPEC_KINDS",
           "load_pe_config", "pe_config_from_dict"]

_K_VALUES = (2, 3, 4, 8)
_MAX_GROUP = 4096


def _check_int(name: str, v: Any, allowed: tuple[int, ...] | None = None,
               lo: int = 1, hi: int | None = None) -> None:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError(f"must be an integer, not {v!r}", path=name)
    if allowed is not None and v not in allowed:
        raise ConfigError(f"must be one of {', '.join(map(str, allowed))}, not {v}", path=name)
    if v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"must be in {rng}, not {v}", path=name)


def _check_choice(name: str, v: Any, choices: tuple[str, ...]) -> None:
    if v not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}, not {v!r}", path=name)


@dataclass(frozen=True)
class ShiftAddSpec:
    """MixPE shift-and-add PE: k-bit weights x INT8/FP16 activations, group-wise late dequant.

    ``ternary`` (k = 2 only) restricts weights to {-1, 0, +1}. ``latency`` counts clock edges
    from the one accepting a sequence's ``last`` element to the one raising the output valid;
    ``throughput`` is one product per cycle. Semantics: ``mixforge.models.pe.shift_add_pe``.
    """

    k: int = 4
    act: str = "int8"
    group: int = 128
    out: str = "float32"
    ternary: bool = False

    def __post_init__(self) -> None:
        _check_int("k", self.k, _K_VALUES)
        _check_choice("act", self.act, ("int8", "fp16"))
        _check_int("group", self.group, lo=1, hi=_MAX_GROUP)
        _check_choice("out", self.out, ("float32", "float16"))
        if not isinstance(self.ternary, bool):
            raise ConfigError(f"must be true or false, not {self.ternary!r}", path="ternary")
        if self.ternary and self.k != 2:
            raise ConfigError(f"ternary weights need k = 2, not {self.k}", path="ternary")

    kind = "shift_add"
    latency = 7
    throughput = 1.0


@dataclass(frozen=True)
class DequantFirstSpec:
    """Baseline (W4A8 without mpGEMM): per element ``w8 = sat8((w - z) * sm)``, INT8 x INT8.

    Semantics: ``mixforge.models.pe.dequant_first_pe``.
    """

    k: int = 4
    out: str = "float32"

    def __post_init__(self) -> None:
        _check_int("k", self.k, _K_VALUES)
        _check_choice("out", self.out, ("float32", "float16"))

    kind = "mul_dequant_first"
    latency = 6
    throughput = 1.0


@dataclass(frozen=True)
class FP16MacSpec:
    """Baseline (W4A16 without mpGEMM): per element ``wf = fp16(s * (w - z))``, FP16 x FP16 MAC.

    Semantics: ``mixforge.models.pe.fp16_mac_pe``.
    """

    k: int = 4
    out: str = "float32"

    def __post_init__(self) -> None:
        _check_int("k", self.k, _K_VALUES)
        _check_choice("out", self.out, ("float32", "float16"))

    kind = "fp16_mac"
    latency = 6
    throughput = 1.0


@dataclass(frozen=True)
class MultiFormatSpec:
    """XR-NPE-style 16-bit SIMD MAC, run-time mode (4xFP4, 4xposit4_es1, 2xposit8_es0,
    1xposit16_es1), shared multiplier, 128-bit quire, one rounding into ``out``.

    Semantics: ``mixforge.models.pe.multiformat_mac``; one 16-bit operand pair per cycle.
    """

    out: str = "posit16_es1"

    def __post_init__(self) -> None:
        _check_choice("out", self.out, ("posit16_es1", "float16", "float32"))

    kind = "multiformat"
    latency = 6
    throughput = 1.0


@dataclass(frozen=True)
class SharedQuireSpec(MultiFormatSpec):
    """Baseline of :class:`MultiFormatSpec`, "separate multipliers, shared quire": one
    decoder / multiplier / aligner per format and lane, the active format muxed into the same
    128-bit quire and readout as the shared design.

    Same function (``multiformat_mac``) and timing; only the sharing differs.
    """

    kind = "shared_quire"


@dataclass(frozen=True)
class SeparateMacsSpec(MultiFormatSpec):
    """Baseline of :class:`MultiFormatSpec` as the papers compare: one complete MAC per format
    (decoders, multipliers, its own exact accumulator sized for the format, its own readout
    rounding into ``out``), the outputs muxed; the mode is meant to stay fixed during an
    accumulation (XR-NPE picks the format per layer).

    Semantics: ``mixforge.models.pe.separate_macs_mac`` (equal to ``multiformat_mac`` for a
    sequence of one mode); same ports, latency and throughput as the shared design.
    """

    kind = "separate_macs"


PESpec = (ShiftAddSpec | DequantFirstSpec | FP16MacSpec | MultiFormatSpec | SharedQuireSpec
          | SeparateMacsSpec)
SPEC_KINDS: dict[str, type[Any]] = {c.kind: c for c in (
    ShiftAddSpec, DequantFirstSpec, FP16MacSpec, MultiFormatSpec, SharedQuireSpec,
    SeparateMacsSpec)}


@dataclass(frozen=True)
class PEConfig:
    """A parsed PE YAML file: module ``name`` and the PE ``spec``."""

    name: str
    spec: Any
    schema_version: int = 1


def pe_config_from_dict(data: Any, *, file: str | None = None) -> PEConfig:
    """Validate a PE config mapping (``schema_version`` already checked and removed by
    ``mixforge.config.load_yaml``); errors name ``file`` and the dotted field path."""
    from mixforge.config import from_dict

    if not isinstance(data, dict):
        raise ConfigError("top level must be a mapping", file=file)
    unknown = sorted(set(data) - {"name", "pe"})
    if unknown:
        raise ConfigError("unknown key (known keys: name, pe)", file=file, path=unknown[0])
    name = data.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"must be a Verilog identifier, not {name!r}", file=file, path="name")
    pe = data.get("pe")
    if not isinstance(pe, dict):
        raise ConfigError("must be a mapping with a 'kind'", file=file, path="pe")
    kind = pe.get("kind")
    if kind not in SPEC_KINDS:
        raise ConfigError(f"must be one of {', '.join(SPEC_KINDS)}, not {kind!r}", file=file,
                          path="pe.kind")
    params = {k: v for k, v in pe.items() if k != "kind"}
    spec = from_dict(SPEC_KINDS[kind], params, file=file, path="pe")
    return PEConfig(name=name, spec=spec)


def load_pe_config(path: str | Path) -> PEConfig:
    """Read and validate a PE YAML file (``schema_version: 1`` required)."""
    from mixforge.config import load_yaml

    return pe_config_from_dict(load_yaml(path), file=str(path))
