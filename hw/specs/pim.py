"""Throughput spec of the logic-PIM unit (``mixforge.hw.pim.LogicPIMUnit``) that sim/ uses.

The unit reads one weight beat of ``banks * burst_bits`` bits per cycle and applies it to one
token (query row) per cycle; a 4-bit beat against 16-bit activations spans two activation
words, so it takes two cycles; 16-bit weights (FP16 / BF16, with 16-bit activations only) use
half the lanes, two bytes each, and still read the whole beat per cycle. With the DRAM always
ready the unit therefore sustains::

    bytes/cycle = (width / 8) / (tokens * subs(w, a))     MACs/cycle = width / bits(w) / subs

:data:`MEASURED_BYTES_PER_CYCLE` holds the Verilator measurement of the example unit
(``examples/pim/logic_pim_unit.yaml``, ``python benchmarks/bench_pim.py --no-synth``, ideal
DRAM, K = 512, N = 8, BENCHMARKS.md "Logic-PIM unit"); the regression tests check the formula
against it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PimSpec", "W_FORMATS", "A_FORMATS", "FORMAT_NAMES", "BITS",
           "LEGACY_W_FORMATS", "LEGACY_A_FORMATS", "pair_supported",
           "MEASURED_BYTES_PER_CYCLE"]

#: Streamed-operand (weight / K-cache) formats and their 3-bit weight code ``w``
#: (``mode[0:2] = w[0:2]``, ``mode[3] = w[2]``, ``mixforge.hw.pim.config.mode_code``).
W_FORMATS = {"int4": 0, "int8": 1, "fp4": 2, "posit8": 3,
             "fp8_e4m3": 4, "fp8_e5m2": 5, "fp16": 6, "bf16": 7}
#: Activation / query formats and their 3-bit activation code ``a``
#: (``mode[2] = a[0]``, ``mode[4:6] = a[1:3]``).
A_FORMATS = {"int8": 0, "fp16": 1, "bf16": 2, "fp8_e4m3": 3, "fp8_e5m2": 4}
#: The formats of the first unit (issue 4): a config without ``w_formats`` / ``a_formats``
#: builds these, and its ``mode`` port keeps its 3-bit codes.
LEGACY_W_FORMATS = ("int4", "int8", "fp4", "posit8")
LEGACY_A_FORMATS = ("int8", "fp16")
#: models/ format names of the PIM formats.
FORMAT_NAMES = {"int4": "int4", "int8": "int8", "fp4": "float4_e2m1fn", "posit8": "posit8_es0",
                "fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2", "fp16": "float16",
                "bf16": "bfloat16"}
#: Bits of one element (OCP FP8 spec v1.0 / IEEE 754 binary16 / bfloat16).
BITS = {"int4": 4, "int8": 8, "fp4": 4, "posit8": 8, "fp8_e4m3": 8, "fp8_e5m2": 8,
        "fp16": 16, "bf16": 16}


def pair_supported(w_fmt: str, a_fmt: str) -> bool:
    """16-bit weights pair with 16-bit activations only; every other pair is built."""
    return not (BITS[w_fmt] == 16 and BITS[a_fmt] == 8)


#: Sustained B/cycle of the 4 x 64-bit example unit measured in Verilator with ideal DRAM, per
#: (weights, activations) and token count (1, 4, 8, 16) (BENCHMARKS.md, bench_pim.py).
MEASURED_BYTES_PER_CYCLE: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("int4", "int8"): (32.0, 8.0, 4.0, 2.0), ("int8", "int8"): (32.0, 8.0, 4.0, 2.0),
    ("fp4", "int8"): (32.0, 8.0, 4.0, 2.0), ("posit8", "int8"): (32.0, 8.0, 4.0, 2.0),
    ("int4", "fp16"): (16.0, 4.0, 2.0, 1.0), ("int8", "fp16"): (32.0, 8.0, 4.0, 2.0),
    ("fp4", "fp16"): (16.0, 4.0, 2.0, 1.0), ("posit8", "fp16"): (32.0, 8.0, 4.0, 2.0)}


@dataclass(frozen=True)
class PimSpec:
    """What one generated logic-PIM unit sustains (parameters of ``PimUnitConfig``).

    Parameters
    ----------
    banks, burst_bits
        Weight interface: ``banks * burst_bits`` bits per beat.
    max_tokens, max_k_words
        Activation buffer: tokens x words of ``2 * width`` bits.
    w_formats, a_formats
        Lane formats built (PIM names, :data:`W_FORMATS` / :data:`A_FORMATS`).
    """

    banks: int
    burst_bits: int
    max_tokens: int
    max_k_words: int
    w_formats: tuple[str, ...]
    a_formats: tuple[str, ...]

    #: Cycles from a column's last operation to its result (``LogicPIMUnit.latency``).
    latency = 2

    @property
    def width(self) -> int:
        """Weight interface width in bits."""
        return self.banks * self.burst_bits

    @property
    def buffer_bytes(self) -> int:
        """Activation buffer capacity in bytes."""
        return self.max_tokens * self.max_k_words * 2 * self.width // 8

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (weight, activation) pairs the lanes compute (:func:`pair_supported`)."""
        return tuple((w, a) for w in self.w_formats for a in self.a_formats
                     if pair_supported(w, a))

    @staticmethod
    def subs(w: str, a: str) -> int:
        """Operations per weight beat per token (2: a 4-bit beat needs two 16-bit words)."""
        return max(1, BITS[a] // (2 * BITS[w]))

    def macs_per_cycle(self, w: str, a: str) -> int:
        """MACs per cycle in mode ``(w, a)`` (PIM names), independent of the token count.

        16-bit weights use half the lanes (two bytes per weight) but still read ``width`` bits
        per operation: ``width / 16`` MACs and ``width / 8`` bytes per cycle.
        """
        return self.width // BITS[w] // self.subs(w, a)

    def bytes_per_cycle(self, w: str, a: str, tokens: int = 1) -> float:
        """Sustained weight bytes per cycle with the DRAM always ready."""
        return self.width / 8 / (tokens * self.subs(w, a))

    def modes(self) -> tuple[tuple[str, str, int], ...]:
        """Built modes as (models/ weight name, models/ activation name, MACs per cycle)."""
        return tuple((FORMAT_NAMES[w], FORMAT_NAMES[a], self.macs_per_cycle(w, a))
                     for w, a in self.pairs)
