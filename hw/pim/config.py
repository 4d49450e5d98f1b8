"""Pure-Python configuration of the logic-PIM unit (no Amaranth import).

YAML form (``examples/pim/logic_pim_unit.yaml``)::

    schema_version: 1
    pim: {banks: 4, burst_bits: 64, max_tokens: 8, max_k_words: 16}
    verify: {jobs: [[gemv_int4, 4, 96, 3], [gemv_posit8, 2, 64, 4, fp16]],
             dram: {latency: 12, row_miss: 10}, out_ready: 0.7}

A job is ``[mode, tokens, K, N]`` or ``[mode, tokens, K, N, act]``: ``mode`` is
``gemv_<w>`` or ``attn_<w>`` with the streamed operand (weights, or the K cache for attention
scores) in format ``<w>`` (:data:`W_FORMATS`), ``act`` the activation / query format
(:data:`A_FORMATS`, default ``int8``). Formats: weights ``int4``, ``int8``, ``fp4`` (E2M1),
``posit8`` (es 0), ``fp8_e4m3``, ``fp8_e5m2``, ``fp16``, ``bf16``; activations ``int8``,
``fp16``, ``bf16``, ``fp8_e4m3``, ``fp8_e5m2`` (:data:`FORMAT_NAMES` gives the models/ names).
16-bit weights need 16-bit activations. ``examples/pim/duplex_formats.yaml`` builds the formats
of the Duplex device; the ``mode`` port encoding is :func:`mode_code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mixforge.errors import ConfigError
from mixforge.hw.specs.pim import (
    A_FORMATS,
    BITS,
    FORMAT_NAMES,
    LEGACY_A_FORMATS,
    LEGACY_W_FORMATS,
    W_FORMATS,
    PimSpec,
    pair_supported,
)

__all__ = ["PimUnitConfig", "PimConfig", "DramModel", "PimVerify", "PimFile", "PimJob",
           "load_pim_file", "BITS", "W_FORMATS", "A_FORMATS", "MODES", "FORMAT_NAMES",
           "mode_code", "parse_job", "LEGACY_W_FORMATS", "LEGACY_A_FORMATS", "FLOAT_FIELDS",
           "pair_supported"]

# W_FORMATS, A_FORMATS, FORMAT_NAMES, BITS, LEGACY_*_FORMATS, pair_supported: the unit's format
# vocabulary (hw/specs/pim.py).
#: Job modes: GEMV / skinny GEMM over weights, or attention scores q . K^T over a streamed K.
MODES = tuple(f"{op}_{w}" for op in ("gemv", "attn") for w in W_FORMATS)
# (|significand| max, exponent min, exponent max) with
# value = significand * 2**exponent (see hw/pim/reference.py). IEEE-style floats:
# significand (1.m or 0.m) * 2**man_bits, exponent from 1 - bias - man_bits (subnormals) to
# emax_biased - bias - man_bits (OCP FP8 spec v1.0 / IEEE 754 binary16 / bfloat16).
SIG_EXP = {"int4": (8, 0, 0), "int8": (128, 0, 0), "fp4": (3, -1, 1), "posit8": (63, -11, 1),
           "fp8_e4m3": (15, -9, 5), "fp8_e5m2": (7, -16, 13), "fp16": (2047, -24, 5),
           "bf16": (255, -133, 120)}
#: IEEE-style float fields: (exponent bits, mantissa bits, bias, has inf) (OCP FP8 v1.0:
#: E4M3 has no infinities and one NaN per sign, S.1111.111; E5M2 follows IEEE 754).
FLOAT_FIELDS = {"fp8_e4m3": (4, 3, 7, False), "fp8_e5m2": (5, 2, 15, True),
                "fp16": (5, 10, 15, True), "bf16": (8, 7, 127, True)}
_INT = ("int4", "int8")


#: A validated job: (mode, tokens, K, N, activation format).
PimJob = tuple[str, int, int, int, str]


def _int_in(name: str, v: object, lo: int, hi: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"must be an integer in {lo}..{hi}, not {v!r}", path=name)


def mode_code(w_fmt: str, a_fmt: str) -> int:
    """Value of the ``mode`` port for weight format ``w_fmt`` x activation format ``a_fmt``.

    With weight code ``w`` (:data:`W_FORMATS`) and activation code ``a`` (:data:`A_FORMATS`)::

        mode[0:2] = w[0:2]   mode[2] = a[0]   mode[3] = w[2]   mode[4:6] = a[1:3]

    so the first unit's 3-bit codes (weight in bits 0-1, FP16 activations in bit 2) are
    unchanged; a unit built with only :data:`LEGACY_W_FORMATS` x :data:`LEGACY_A_FORMATS` has a
    3-bit port, any other a 6-bit one (:attr:`PimUnitConfig.mode_bits`).
    """
    w, a = W_FORMATS[w_fmt], A_FORMATS[a_fmt]
    return (w & 3) | (a & 1) << 2 | (w >> 2) << 3 | (a >> 1) << 4


def _check_formats(name: str, got: tuple[str, ...], known: dict[str, int]) -> None:
    if not got:
        raise ConfigError("must list at least one format", path=name)
    for i, f in enumerate(got):
        if f not in known:
            raise ConfigError(f"must be one of {', '.join(known)}, not {f!r}",
                              path=f"{name}[{i}]")
    if len(set(got)) != len(got):
        raise ConfigError(f"lists a format twice: {list(got)}", path=name)


@dataclass(frozen=True)
class PimUnitConfig:
    """Parameters of one :class:`mixforge.hw.pim.LogicPIMUnit` (the RTL unit; the simulator's
    device-level PIM is :class:`mixforge.sim.arch.pim.PimDeviceConfig`).

    Parameters
    ----------
    banks
        Bank-bundle parallelism: banks read in parallel per burst (power of two, 1..16).
    burst_bits
        Bits one bank delivers per burst (power of two, 32..256). The weight interface is
        ``banks * burst_bits`` wide.
    max_tokens
        Activation buffer capacity in tokens (query rows), 1..16.
    max_k_words
        Activation buffer depth per token in words of ``2 * width`` bits (``width / 4`` INT8 or
        ``width / 8`` FP16 activations). The buffer is one SRAM of
        ``max_tokens * max_k_words`` words.
    w_formats, a_formats
        Formats the lanes are built for (the run-time ``mode`` port chooses among them; every
        weight format pairs with every activation format except 16-bit weights x 8-bit
        activations, :func:`pair_supported`). Fewer formats, smaller lanes; a BF16 operand
        widens the exact accumulator to cover its 8-bit exponent (about 530 bits).
    """

    banks: int = 4
    burst_bits: int = 64
    max_tokens: int = 8
    max_k_words: int = 16
    w_formats: tuple[str, ...] = LEGACY_W_FORMATS
    a_formats: tuple[str, ...] = LEGACY_A_FORMATS

    def __post_init__(self) -> None:
        _int_in("banks", self.banks, 1, 16)
        if self.banks & (self.banks - 1):
            raise ConfigError(f"must be a power of two, not {self.banks}", path="banks")
        _int_in("burst_bits", self.burst_bits, 32, 256)
        if self.burst_bits & (self.burst_bits - 1):
            raise ConfigError(f"must be a power of two, not {self.burst_bits}",
                              path="burst_bits")
        _int_in("max_tokens", self.max_tokens, 1, 16)
        _int_in("max_k_words", self.max_k_words, 1, 4096)
        if self.max_k_words * self.word_acts > 1 << 16:
            raise ConfigError(f"{self.max_k_words} words x {self.word_acts} INT8 activations "
                              f"exceed K = 65536", path="max_k_words")
        _check_formats("w_formats", tuple(self.w_formats), W_FORMATS)
        _check_formats("a_formats", tuple(self.a_formats), A_FORMATS)
        if not self.pairs:
            raise ConfigError(f"no weight format of {list(self.w_formats)} pairs with an "
                              f"activation format of {list(self.a_formats)} (16-bit weights "
                              f"need 16-bit activations)", path="a_formats")

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (weight, activation) format pairs the lanes compute."""
        return self.spec.pairs

    @property
    def legacy(self) -> bool:
        """Only the first unit's formats: 3-bit ``mode`` port, unchanged module name."""
        return set(self.w_formats) <= set(LEGACY_W_FORMATS) and \
            set(self.a_formats) <= set(LEGACY_A_FORMATS)

    @property
    def mode_bits(self) -> int:
        """Width of the ``mode`` port (:func:`mode_code`)."""
        return 3 if self.legacy else 6

    @property
    def spec(self) -> PimSpec:
        """The throughput spec (what sim/ uses)."""
        return PimSpec(banks=self.banks, burst_bits=self.burst_bits,
                       max_tokens=self.max_tokens, max_k_words=self.max_k_words,
                       w_formats=tuple(self.w_formats), a_formats=tuple(self.a_formats))

    @property
    def width(self) -> int:
        """Weight interface width in bits."""
        return self.banks * self.burst_bits

    @property
    def lanes(self) -> int:
        """Lanes: each takes one 8-bit weight byte (one INT8/posit8 or two INT4/FP4 weights)."""
        return self.width // 8

    @property
    def word_acts(self) -> int:
        """INT8 activations per activation-buffer word (= INT4 weights per beat)."""
        return self.width // 4

    @property
    def word_bits(self) -> int:
        """Bits of one activation-buffer word."""
        return 2 * self.width

    @property
    def latency(self) -> int:
        """Cycles from issuing a column's last operation to its result on ``o`` (ready high)."""
        return 2

    def acts_per_word(self, a_fmt: str) -> int:
        return self.word_bits // BITS[a_fmt]

    def max_k(self, a_fmt: str) -> int:
        """Largest reduction length the activation buffer holds for ``a_fmt``."""
        return self.max_k_words * self.acts_per_word(a_fmt)

    @property
    def acc_lsb(self) -> int:
        """LSB exponent of the exact accumulator (the smallest product quantum of any mode)."""
        return min(SIG_EXP[w][1] + SIG_EXP[a][1] for w, a in self.pairs)

    @property
    def prod_bits(self) -> int:
        """Two's complement bits of one product aligned at :attr:`acc_lsb` (any mode)."""
        big = max(SIG_EXP[w][0] * SIG_EXP[a][0] << (SIG_EXP[w][2] + SIG_EXP[a][2] - self.acc_lsb)
                  for w, a in self.pairs)
        return big.bit_length() + 1

    @property
    def acc_bits(self) -> int:
        """Accumulator width: exact for any K up to :meth:`max_k` in any mode."""
        return self.prod_bits + (self.max_k_words * self.word_acts).bit_length()

    @property
    def name(self) -> str:
        full = set(self.w_formats) == set(LEGACY_W_FORMATS) and \
            set(self.a_formats) == set(LEGACY_A_FORMATS)
        tag = "" if full else "_" + "_".join(list(self.w_formats) + ["x"] + list(self.a_formats))
        return f"logic_pim_{self.banks}x{self.burst_bits}_t{self.max_tokens}{tag}"

    def params(self) -> dict[str, object]:
        return {"banks": self.banks, "burst_bits": self.burst_bits,
                "max_tokens": self.max_tokens, "max_k_words": self.max_k_words,
                "w_formats": list(self.w_formats), "a_formats": list(self.a_formats)}

    @staticmethod
    def int_output(w_fmt: str, a_fmt: str) -> bool:
        """INT weights x INT8 activations give an exact int32 result; the rest a float32."""
        return w_fmt in _INT and a_fmt == "int8"

    def subs(self, w_fmt: str, a_fmt: str) -> int:
        """Operations per weight beat per token (2: a 4-bit beat needs two 16-bit words)."""
        return PimSpec.subs(w_fmt, a_fmt)

    def padded_k(self, w_fmt: str, a_fmt: str, k: int) -> int:
        """K padded with zeros to whole activation words and whole weight beats."""
        step = max(self.acts_per_word(a_fmt), self.width // BITS[w_fmt])
        return -(-k // step) * step

    def k_words(self, w_fmt: str, a_fmt: str, k: int) -> int:
        """Activation words per token of a job (the ``k_words`` port)."""
        return self.padded_k(w_fmt, a_fmt, k) // self.acts_per_word(a_fmt)

    def beats_per_column(self, w_fmt: str, a_fmt: str, k: int) -> int:
        """Weight beats per output column for reduction length ``k``."""
        return self.padded_k(w_fmt, a_fmt, k) * BITS[w_fmt] // self.width

    def ops(self, w_fmt: str, a_fmt: str, tokens: int, k: int, n: int) -> int:
        """Datapath operations (cycles with data always ready) of a job."""
        return self.beats_per_column(w_fmt, a_fmt, k) * self.subs(w_fmt, a_fmt) * tokens * n

    def bytes_per_cycle(self, w_fmt: str, a_fmt: str, tokens: int) -> float:
        """Weight bytes per cycle with data always ready: one beat per ``tokens * subs``
        operations (what ``bench_pim.py`` measures in Verilator behind an ideal DRAM)."""
        return self.spec.bytes_per_cycle(w_fmt, a_fmt, tokens)

    def ideal_cycles(self, w_fmt: str, a_fmt: str, tokens: int, k: int, n: int) -> int:
        """First weight beat accepted to last result, data always ready: ``ops + latency - 1``."""
        return self.ops(w_fmt, a_fmt, tokens, k, n) + self.latency - 1

    def check_job(self, job: PimJob, path: str) -> None:
        """ConfigError unless this unit can run ``job`` (formats built, tokens, K fit)."""
        mode, tokens, k, _, a_fmt = job
        w_fmt = mode.split("_", 1)[1]
        if w_fmt not in self.w_formats:
            raise ConfigError(f"{mode}: weight format {w_fmt} is not built (pim.w_formats = "
                              f"{list(self.w_formats)})", path=path)
        if a_fmt not in self.a_formats:
            raise ConfigError(f"activation format {a_fmt} is not built (pim.a_formats = "
                              f"{list(self.a_formats)})", path=path)
        if not pair_supported(w_fmt, a_fmt):
            raise ConfigError(f"{mode}: {w_fmt} weights need 16-bit activations, not {a_fmt}",
                              path=path)
        if tokens > self.max_tokens:
            raise ConfigError(f"{tokens} tokens exceed max_tokens={self.max_tokens}", path=path)
        if self.padded_k(w_fmt, a_fmt, k) > self.max_k(a_fmt):
            raise ConfigError(f"K={k} exceeds the activation buffer ({self.max_k(a_fmt)} "
                              f"{a_fmt} values per token, K padded to "
                              f"{self.padded_k(w_fmt, a_fmt, k)})", path=path)


#: Deprecated alias of :class:`PimUnitConfig` (the name clashed with the simulator's PIM).
PimConfig = PimUnitConfig


@dataclass(frozen=True)
class DramModel:
    """The cocotb DRAM-side model: burst latency, row-buffer behaviour, random stalls.

    ``row_bytes`` of consecutive weight bytes share a DRAM row; the first burst of a new row
    pays ``row_miss`` extra cycles (precharge + activate); every burst arrives ``latency``
    cycles after it is issued, with up to ``queue`` bursts in flight; with probability
    ``stall`` a cycle issues nothing (refresh, other bundle's traffic).
    """

    latency: int = 8
    row_bytes: int = 1024
    row_miss: int = 10
    queue: int = 16
    stall: float = 0.0

    def __post_init__(self) -> None:
        _int_in("latency", self.latency, 1, 1000)
        _int_in("row_bytes", self.row_bytes, 32, 1 << 16)
        _int_in("row_miss", self.row_miss, 0, 1000)
        _int_in("queue", self.queue, 1, 256)
        if not 0.0 <= self.stall < 1.0:
            raise ConfigError(f"must be in [0, 1), not {self.stall}", path="stall")


def parse_job(job: tuple[object, ...] | list[object], path: str) -> PimJob:
    """``[mode, tokens, K, N]`` or ``[mode, tokens, K, N, act]`` -> a checked :data:`PimJob`."""
    if not 4 <= len(job) <= 5:
        raise ConfigError(f"must be [mode, tokens, K, N] or [mode, tokens, K, N, act], "
                          f"not {list(job)}", path=path)
    mode, *nums = job[:4]
    act = job[4] if len(job) == 5 else "int8"
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", path=path)
    if act not in A_FORMATS:
        raise ConfigError(f"act must be one of {', '.join(A_FORMATS)}, not {act!r}", path=path)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in nums):
        raise ConfigError(f"tokens, K, N must be positive integers, not {nums}", path=path)
    t, k, n = (int(v) for v in nums)  # type: ignore[call-overload]
    return (str(mode), t, k, n, str(act))


@dataclass(frozen=True)
class PimVerify:
    """Jobs that ``mixforge verify pim`` runs, the DRAM model, the consumer, the seed.

    ``out_ready`` is the probability that the consumer takes a result in a given cycle
    (``1.0``: never stalls); the unit must then hold its output and stop taking weight beats.
    """

    jobs: tuple[tuple[str | int, ...], ...] = (("gemv_int4", 4, 96, 3),
                                               ("gemv_int8", 1, 64, 4),
                                               ("attn_int8", 8, 40, 5))
    dram: DramModel = field(default_factory=DramModel)
    out_ready: float = 1.0
    seed: int = 1

    def __post_init__(self) -> None:
        for i, job in enumerate(self.jobs):
            parse_job(job, f"jobs[{i}]")
        if not 0.0 < self.out_ready <= 1.0:
            raise ConfigError(f"must be in (0, 1], not {self.out_ready}", path="out_ready")

    @property
    def parsed_jobs(self) -> tuple[PimJob, ...]:
        return tuple(parse_job(j, f"jobs[{i}]") for i, j in enumerate(self.jobs))


@dataclass(frozen=True)
class PimFile:
    pim: PimUnitConfig
    verify: PimVerify = field(default_factory=PimVerify)


def load_pim_file(path: str | Path) -> PimFile:
    """Read and validate a logic-PIM YAML file (``schema_version: 1``)."""
    from mixforge.config import from_dict, load_yaml

    return from_dict(PimFile, load_yaml(path), file=str(path))
