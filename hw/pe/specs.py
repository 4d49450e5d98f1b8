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
      dequant: parallel           # shift_add: parallel | serial (amortised multi-cycle unit);
                                  # mul_dequant_first has readout: parallel | serial
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["SERIAL_DIGIT", "SERIAL_ZERO_CYCLES", "SERIAL_SCALE_CYCLES",
           "SERIAL_READOUT_CYCLES", "ShiftAddSpec",
           "DequantFirstSpec", "FP16MacSpec", "MultiFormatSpec", "SharedQuireSpec",
           "SeparateMacsSpec", "PESpec", "PeFile", "SPEC_KINDS", "load_pe_config",
           "pe_config_from_dict"]

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


#: Digit width (bits) of the serial dequantization unit's accumulator adder (a power of two).
SERIAL_DIGIT = 8
#: Cycles of the serial unit's zero-point phase (one bit of the int8 zero point per cycle) and
#: of its scale phase (one bit of the 11-bit FP16 scale significand per cycle).
SERIAL_ZERO_CYCLES, SERIAL_SCALE_CYCLES = 8, 11


@dataclass(frozen=True)
class ShiftAddSpec:
    """MixPE shift-and-add PE: k-bit weights x INT8/FP16 activations, group-wise late dequant.

    ``ternary`` (k = 2 only) restricts weights to {-1, 0, +1}. Semantics (both ``dequant``
    styles, bit for bit): ``mixforge.models.pe.shift_add_pe``.

    ``dequant``: ``parallel`` (full-rate pipelined dequantization, one group per cycle) or
    ``serial`` (one multi-cycle unit with narrow adders works on a closed group for
    :attr:`group_cycles` = S cycles while the next group accumulates at full rate; a group
    that closes while the unit is still busy stalls the input, ``i.ready`` low, until it is
    free). Timing, all counted in clock edges at full rate (input always valid, output always
    ready):

    * ``latency``: from the edge accepting a sequence's ``last`` element to the one capturing
      the output (the PE raises ``o.valid`` one edge earlier), when the dequant unit was idle
      (always so for ``parallel``). A group closing while the unit is busy waits for it first.
    * ``throughput``: products per cycle in steady state for groups of ``group`` products,
      ``group / max(group, S)`` (1.0 for ``parallel``, and for ``serial`` whenever
      ``group >= S``).
    * :meth:`full_rate_stamps` gives the exact accept / output edges of any sequence; the
      testbench checks every full-rate run against it.
    """

    k: int = 4
    act: str = "int8"
    group: int = 128
    out: str = "float32"
    ternary: bool = False
    dequant: str = "parallel"

    def __post_init__(self) -> None:
        _check_int("k", self.k, _K_VALUES)
        _check_choice("act", self.act, ("int8", "fp16"))
        _check_int("group", self.group, lo=1, hi=_MAX_GROUP)
        _check_choice("out", self.out, ("float32", "float16"))
        if not isinstance(self.ternary, bool):
            raise ConfigError(f"must be true or false, not {self.ternary!r}", path="ternary")
        if self.ternary and self.k != 2:
            raise ConfigError(f"ternary weights need k = 2, not {self.k}", path="ternary")
        _check_choice("dequant", self.dequant, ("parallel", "serial"))

    kind = "shift_add"

    @property
    def serial_digits(self) -> int:
        """Accumulator digits the serial unit adds one per cycle (0 for ``parallel``)."""
        if self.dequant != "serial":
            return 0
        from mixforge.models.pe import shift_add_arith

        acc = shift_add_arith(k=self.k, act=self.act, group=self.group).acc
        return -(-acc // SERIAL_DIGIT)

    @property
    def group_cycles(self) -> int:
        """S: cycles the dequantization unit spends on one group (its initiation interval)."""
        if self.dequant != "serial":
            return 1
        return SERIAL_ZERO_CYCLES + SERIAL_SCALE_CYCLES + self.serial_digits

    @property
    def latency(self) -> int:
        return 7 if self.dequant != "serial" else self.group_cycles + 4

    @property
    def throughput(self) -> float:
        return self.group / max(self.group, self.group_cycles)

    def full_rate_stamps(self, last: Any) -> tuple[list[int], list[int]]:
        """Accept edges of every element and capture edges of every output at full rate.

        ``last``: one flag per element (the final element must be ``last``); edges count from
        0 (the first element is accepted at edge 0, the unit idle). An element that closes a
        group (``group`` products or ``last``) hands the group to the dequant unit at the next
        edge at which the unit can take it (at least ``group_cycles`` edges after the previous
        hand-over), and the next element is accepted at that same edge; a sequence's output is
        captured ``latency - 1`` edges after its last group's hand-over.
        """
        g = self.group
        ends, cnt = [], 0
        for flag in last:
            ends.append(bool(flag) or cnt == g - 1)
            cnt = 0 if ends[-1] else cnt + 1
        return _stall_stamps(last, ends, depth=1, interval=self.group_cycles,
                             latency=self.latency)


def _stall_stamps(last: Any, ends: list[bool], *, depth: int, interval: int, latency: int
                  ) -> tuple[list[int], list[int]]:
    """Full-rate handshake edges of a pipeline whose stage ``depth - 1`` hands closing
    elements (``ends``) to a unit that takes one every ``interval`` edges at most; the whole
    input pipeline holds while such an element waits. Outputs (at ``last``) are captured
    ``latency - depth`` edges after the hand-over (``latency`` when the unit was idle)."""
    n = len(ends)
    slots: list[int | None] = [None] * depth   # element index per input stage
    ins: list[int] = []
    outs: list[int] = []
    free, e = 0, 0
    while len(ins) < n or any(x is not None for x in slots):
        head = slots[-1]
        if head is not None and ends[head] and e < free:
            e += 1  # the unit is busy: everything up to the handing stage holds
            continue
        if head is not None and ends[head]:
            free = e + interval
            if last[head]:
                outs.append(e + latency - depth)
        nxt = len(ins) if len(ins) < n else None
        if nxt is not None:
            ins.append(e)
        slots = [nxt, *slots[:-1]]
        e += 1
    return ins, outs


#: Edges the baseline's serial tensor-scale unit spends per output: 11 multiply steps, then
#: the 75-bit scaled value one SERIAL_DIGIT-bit digit per cycle.
SERIAL_READOUT_CYCLES = 11 + -(-75 // SERIAL_DIGIT)


@dataclass(frozen=True)
class DequantFirstSpec:
    """Baseline (W4A8 without mpGEMM): per element ``w8 = sat8((w - z) * sm)``, INT8 x INT8.

    Semantics: ``mixforge.models.pe.dequant_first_pe``. ``readout``: ``parallel`` (the
    once-per-output tensor-scale multiply ``tscale * acc`` as a full-rate ``*``) or ``serial``
    (``hw/pe/dequant.serial_scale``: a shift-and-add over the scale significand, one bit per
    cycle, then the sign and exponent shift one 8-bit digit per cycle, as ShiftAddPE's serial
    dequant unit does; the same parallel rounding after it). The per-element dequantization
    and the INT8 x INT8 multiplier stay full-rate. ``serial``: a sequence's final element
    waits in stage 3 while the readout unit is busy (:attr:`group_cycles` = 21 edges per
    output; sequences of >= 21 elements run at one product per cycle); ``latency`` counts as
    for ShiftAddSpec (unit idle); :meth:`full_rate_stamps` is the exact full-rate timing.
    """

    k: int = 4
    out: str = "float32"
    readout: str = "parallel"

    def __post_init__(self) -> None:
        _check_int("k", self.k, _K_VALUES)
        _check_choice("out", self.out, ("float32", "float16"))
        _check_choice("readout", self.readout, ("parallel", "serial"))

    kind = "mul_dequant_first"
    throughput = 1.0

    @property
    def group_cycles(self) -> int:
        """Edges between two outputs' hand-overs to the readout unit (1: ``parallel``)."""
        return SERIAL_READOUT_CYCLES if self.readout == "serial" else 1

    @property
    def latency(self) -> int:
        return 6 + (SERIAL_READOUT_CYCLES if self.readout == "serial" else 0)

    def full_rate_stamps(self, last: Any) -> tuple[list[int], list[int]]:
        """Accept / output capture edges at full rate (see ``ShiftAddSpec.full_rate_stamps``;
        here the sequence's final element is handed over from stage 3)."""
        return _stall_stamps(last, [bool(x) for x in last], depth=3,
                             interval=self.group_cycles, latency=self.latency)


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
class PeFile:
    """A parsed PE YAML file (``examples/pe/*.yaml``): module ``name`` and the PE ``spec``
    (like :class:`~mixforge.hw.array.config.ArrayFile` / ``PimFile``; the simulator's PE is
    :class:`mixforge.sim.arch.pe.PeConfig`)."""

    name: str
    spec: Any
    schema_version: int = 1


def pe_config_from_dict(data: Any, *, file: str | None = None) -> PeFile:
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
    return PeFile(name=name, spec=spec)


def load_pe_config(path: str | Path) -> PeFile:
    """Read and validate a PE YAML file (``schema_version: 1`` required)."""
    from mixforge.config import load_yaml

    return pe_config_from_dict(load_yaml(path), file=str(path))
