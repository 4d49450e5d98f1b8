"""Pure-Python configuration of a generated PE array (no Amaranth import).

:class:`ArrayConfig` names everything the generator needs (size, dataflow, cell type, operand
widths) and derives the datapath widths and the timing spec (:class:`ArraySpec`) from it, so the
CLI, the testbench and sim/ read one object. :func:`load_array_file` reads the YAML form::

    schema_version: 1
    array: {rows: 4, cols: 4, dataflow: ws, pe: shift_add, w_bits: 4}
    verify: {shapes: [[5, 7, 6], [9, 16, 4]], group_size: 8, seed: 1}

Output kinds: integer cells return exact (per-group) integer sums; ``dequant: true``
(shift-and-add, OS or WS) adds MixPE's per-column group dequantization units at the array
edge and returns float32/float16 patterns; ``pe: dequant_first`` is the multiplier baseline
(float outputs too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mixforge.errors import ConfigError
from mixforge.hw.specs.array import ArraySpec
from mixforge.hw.specs.vocab import CELL_FAMILY, CELL_KINDS, CellKind, Mode, cell_modes

__all__ = ["ArrayConfig", "ArrayFile", "VerifyPlan", "CellKind", "load_array_file",
           "POSIT8_FIXED_LSB", "EDGE_LATENCY"]

#: Cell kinds whose results leave through a rounding unit per column (OS: at the bottom of
#: each column; WS: after an exact accumulator memory per column, ``hw/array/ws_round_edge.py``).
_EDGE_PES = ("dequant_first", "multiformat", "fp16_mac", "shared_quire", "separate_macs")
#: Cell kinds of 16-bit SIMD operand words with a run-time ``mode`` (the x stream's 2-bit
#: field): XR-NPE ``multiformat`` and its two baselines (``hw/pe/multiformat.py``
#: ``SharedQuireMAC``, ``hw/pe/separate_macs.py`` ``SeparateMacsMAC``).
_MODE_PES = ("multiformat", "shared_quire", "separate_macs")
#: separate_macs: the largest |word term| of each mode's MAC in its accumulator's LSBs
#: (``models.pe.SEPARATE_ACC``): lanes * maxval**2 / lsb = FP4 4 * 6**2 * 2**2,
#: posit4 4 * 16**2 * 2**8, posit8 2 * 64**2 * 2**12, posit16 1 * (2**28)**2 * 2**56.
_SEPARATE_TERM_MAX = {"fp4x4": 576, "p4x4": 1 << 18, "p8x2": 1 << 25, "p16x1": 1 << 112}

#: Register stages between a drained row and the float result at ``o``: the MixPE group
#: dequant (2, :data:`mixforge.hw.pe.dequant.DEQUANT_STAGES`) + accumulate (1) + rounding (2);
#: the dequantize-first readout (tensor scale, rounding: 2).
EDGE_LATENCY = {"dequant": 5, "dequant_first": 2, "multiformat": 2, "fp16_mac": 2,
                "shared_quire": 2, "separate_macs": 2}
#: WS MixPE edge (``hw/array/ws_edge.py``): accumulator-memory read (1) + dequant (2) +
#: accumulate (1) + rounding (2).
EDGE_LATENCY["dequant_ws"] = 6
#: WS rounding edge of the ``_EDGE_PES`` kinds (``hw/array/ws_round_edge.py``): accumulator-
#: memory read + add (1) + the OS edge's rounding / tensor-scale readout (2).
EDGE_LATENCY["round_ws"] = 3

#: Exponent of the LSB of a posit(8,0) product in the array's fixed-point sums: every posit(8,0)
#: value is a multiple of minpos = 2**-6, so every product is a multiple of 2**-12.
POSIT8_FIXED_LSB = -12
#: ``act: fp16``: an FP16 activation as an exact signed integer at 2**-24 (``fp16_to_fixed``,
#: ``models.pe.ShiftAddArith.act``).
FP16_FIXED_BITS = 41
#: Bits of the largest |posit(8,0) product| * 2**12 = 64 * 64 * 2**12 = 2**24, plus sign.
_POSIT8_PROD_BITS = 26
#: multiformat: the largest |word product| is posit16_es1 maxpos**2 = 2**56, i.e. 2**112 quire
#: LSBs (2**-56); a signed sum of K such terms needs 114 + clog2(K) bits (capped at the
#: 128-bit quire of ``models.pe.multiformat_mac``, which wraps there).
_MF_TERM_BITS = 114
#: fp16_mac: |wf * a| <= 65504**2 < 2**32, i.e. < 2**80 LSBs (2**-48): 81 signed bits per
#: product, 81 + clog2(K) for a sum of K (capped at ``models.pe.FP16MAC_ACC_BITS``).
_FP16_TERM_BITS = 81


def _clog2(x: int) -> int:
    return max(x - 1, 0).bit_length()


@dataclass(frozen=True)
class ArrayConfig:
    """Parameters of :class:`mixforge.hw.array.PEArray`.

    Parameters
    ----------
    rows, cols
        Array size R x C, each 1..64.
    dataflow
        ``"ws"`` or ``"os"`` (see :class:`ArraySpec`).
    double_buffer
        WS only: two weight banks per PE.
    pe
        ``"shift_add"``: signed ``w_bits``-bit integer weights times signed ``a_bits``-bit
        activations, multiplied by shifted adds (no multiplier). ``"posit8"``: posit(8,0)
        weights and activations, exact products summed in fixed point (LSB 2**-12); the OS
        array rounds each output once to posit(8,0) at its edge (RNE, Posit Standard).
        ``"dequant_first"``: the multiplier baseline of
        ``mixforge.models.pe.dequant_first_pe``: each weight entering a column becomes INT8 at
        the column's top edge (``w8 = sat_int8((w - z) * sm)``), the cells are INT8 x INT8
        ``*`` multipliers with int32 accumulators, and a per-column unit at the bottom edge
        multiplies by the float16 tensor scale and rounds once into ``out``.
        ``"multiformat"``: cells of the XR-NPE ``MultiFormatMAC``
        (``mixforge.models.pe.multiformat_mac``): 16-bit SIMD operand words, a run-time
        ``mode`` (fp4x4 / p4x4 / p8x2 / p16x1, a field of ``x`` held for a whole tile) whose
        L = 4 / 4 / 2 / 1 lanes lie along K (one cell adds the sum of L exact products per
        cycle), exact quire-style fixed-point accumulation (LSB 2**-56, ``114 + clog2(max_k)``
        bits, at most 128) and one rounding per output into ``out`` at the column's edge.
        ``"shared_quire"`` / ``"separate_macs"``: the multiformat MAC's baselines, same words /
        mode / tiling / timing (both dataflows; ``shared_quire`` uses the same cell hooks as
        ``multiformat`` in WS; ``separate_macs`` in WS adds each term into the row's mode's
        segment of a packed partial sum with the cell accumulate hook ``PEArray._acc_add``,
        and the WS edge memory holds the packed per-format accumulators).
        ``shared_quire`` (``SharedQuireMAC``, function ``multiformat_mac``): per-format lane
        decoders and ``*`` multipliers, one quire per cell. ``separate_macs``
        (``SeparateMacsMAC``, function ``models.pe.separate_macs_mac``): one complete MAC per
        format in every cell, each with its own accumulator (:attr:`separate_seg_bits`), the
        edge rounds each and muxes the one of the mode of the fold's last beat.
        ``"fp16_mac"``: the W(k)A16 dequantize-first FP16 baseline
        (``models.pe.fp16_mac_pe``): each k-bit weight becomes ``float16(s * (w - z))`` as it
        enters its column, FP16 x FP16 ``*`` products, exact accumulation (LSB 2**-48), one
        rounding into ``out`` at the edge.
        WS (``hw/array/ws_round_edge.py``) for ``dequant_first`` / ``fp16_mac`` / ``multiformat`` /
        ``shared_quire`` / ``separate_macs``: the same function per output. The weights enter the
        array converted as above (INT8 / float16 / decoded words) with their own fields from the
        ``w`` stream (:meth:`w_fields`: per weight row the C ``zero`` / ``sm`` / ``tscale`` or
        ``scale`` / ``zero``, or the 2-bit ``mode``, and ``last`` = the tile's final K-fold); a
        multiformat weight bank keeps the mode of its weights and the activations streamed against
        it are decoded in that mode. The bottom of each column adds every K-fold's exact partial
        sums into an ``acc_depth``-deep accumulator memory (``acc_bits`` + a NaN/NaR flag;
        separate_macs: the packed per-format accumulators) per row and, on the tile's final K-fold,
        rounds once with the OS edge's units. M is cut into chunks of at most ``acc_depth`` rows.
    w_bits, a_bits
        Integer operand widths (2..8 each); ignored for ``posit8`` (fixed at 8);
        ``multiformat`` ignores both (16-bit words), ``fp16_mac`` ``a_bits`` (FP16).
    max_k
        OS, and WS rounding-edge kinds: the largest K the accumulators hold exactly (sets
        their width; WS: the edge memories'); 1..2**20.
        ``multiformat`` counts K in operand words (``ceil(K / L)`` beats per tile).
    dequant
        ``shift_add`` only: MixPE group dequantization at the array edge. The array cuts K
        into groups of ``group`` beats (or at ``last``), the cells accumulate one group's
        integer sums, and one unit per output column computes
        ``s * (sum(w*a) - z * sum(a))`` once per group (``sum(a)`` from one extra column of
        adders shared by all columns), adds it exactly into an R-deep accumulator and, at the
        tile's ``last`` beat, rounds once into ``out``: ``mixforge.models.pe.shift_add_pe``
        per output element, bit for bit.
        WS ``shift_add`` (``hw/array/ws_edge.py``): the same function per output; the weight
        stream carries each fold's C scales / zero points and ``last`` (the tile's final
        K-fold); K-folds never straddle a group (``ceil(group / rows)`` folds per group), and
        the bottom edge keeps per-row group sums, ``sum(a)`` and exact accumulators in
        ``acc_depth``-deep memories, dequantizes when a group's last fold passes and emits
        the rounded floats of each row when the tile's last K-fold passes.
    group
        Quantization group along K for ``dequant`` (1..4096); sets the cells' sum width.
    acc_depth
        WS ``dequant`` and WS rounding-edge kinds: rows of the edge accumulator memories
        (1..65536, like a TPU accumulator buffer); the tiling cuts M into chunks of at most
        ``acc_depth`` rows, each streamed once per K-fold (:class:`ArraySpec` ``acc_depth``).
    out
        ``"float32"`` or ``"float16"``: result format of ``dequant`` / ``dequant_first`` /
        ``fp16_mac``; ``multiformat`` also ``"posit16_es1"``.
    act
        ``shift_add`` activations: ``"int"`` (default, signed ``a_bits``-bit integers) or
        ``"fp16"`` (MixPE W(k)A16, ``ShiftAddPE(act="fp16")``): each FP16 pattern is converted
        once at the array's left edge into the PE's exact fixed-point form (``fp16_to_fixed``:
        a 41-bit integer at 2**-24, plus a non-finite flag), travels so between cells, and
        every cell forms the shift-and-add product ``sum_i w_i * (afx << i)``; the group sums
        are fixed point at 2**-24 and the edge dequantizes them with that LSB. Needs
        ``dequant: true`` (OS or WS): plain fixed-point partial sums with per-row Inf/NaN
        flags have no output port, so they are rejected. An Inf/NaN activation makes every
        output of its row NaN (``models.pe.shift_add_pe(act="fp16")``); ``a_bits`` is ignored.
    """

    rows: int = 4
    cols: int = 4
    dataflow: Literal["ws", "os"] = "ws"
    double_buffer: bool = False
    pe: CellKind = "shift_add"
    w_bits: int = 4
    a_bits: int = 8
    max_k: int = 4096
    dequant: bool = False
    group: int = 128
    acc_depth: int = 64
    out: Literal["float32", "float16", "posit16_es1"] = "float32"
    act: Literal["int", "fp16"] = "int"

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 64:
                raise ConfigError(f"must be an integer in 1..64, not {v!r}", path=name)
        if self.pe not in CELL_KINDS:
            raise ConfigError(f"must be 'shift_add', 'posit8', 'dequant_first', 'multiformat', "
                              f"'fp16_mac', 'shared_quire' or 'separate_macs', not {self.pe!r}",
                              path="pe")
        for name in ("w_bits", "a_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 2 <= v <= 8:
                raise ConfigError(f"must be an integer in 2..8, not {v!r}", path=name)
        if (not isinstance(self.max_k, int) or isinstance(self.max_k, bool)
                or not 1 <= self.max_k <= 1 << 20):
            raise ConfigError(f"must be an integer in 1..1048576, not {self.max_k!r}",
                              path="max_k")
        if not isinstance(self.dequant, bool):
            raise ConfigError(f"must be true or false, not {self.dequant!r}", path="dequant")
        if self.dequant and self.pe != "shift_add":
            raise ConfigError(f"needs pe 'shift_add', not {self.pe!r}", path="dequant")
        if (not isinstance(self.acc_depth, int) or isinstance(self.acc_depth, bool)
                or not 1 <= self.acc_depth <= 65536):
            raise ConfigError(f"must be an integer in 1..65536, not {self.acc_depth!r}",
                              path="acc_depth")
        if (not isinstance(self.group, int) or isinstance(self.group, bool)
                or not 1 <= self.group <= 4096):
            raise ConfigError(f"must be an integer in 1..4096, not {self.group!r}",
                              path="group")
        if self.pe in _MODE_PES:
            if self.out not in ("posit16_es1", "float16", "float32"):
                raise ConfigError(f"must be 'posit16_es1', 'float16' or 'float32', not "
                                  f"{self.out!r}", path="out")
        elif self.out not in ("float32", "float16"):
            raise ConfigError(f"must be 'float32' or 'float16', not {self.out!r}", path="out")
        if self.act not in ("int", "fp16"):
            raise ConfigError(f"must be 'int' or 'fp16', not {self.act!r}", path="act")
        if self.act == "fp16" and self.pe != "shift_add":
            raise ConfigError(f"'fp16' needs pe 'shift_add', not {self.pe!r}", path="act")
        if self.act == "fp16" and not self.dequant:
            raise ConfigError("'fp16' needs dequant: true (fixed-point sums with Inf/NaN "
                              "flags have no integer output)", path="act")
        self.spec  # noqa: B018 -- validates dataflow / double_buffer with the spec's messages

    @property
    def spec(self) -> ArraySpec:
        """The timing spec (what sim/ uses)."""
        return ArraySpec(rows=self.rows, cols=self.cols, dataflow=self.dataflow,
                         double_buffer=self.double_buffer, dequant_latency=self.edge_latency,
                         acc_depth=self.acc_depth if self.ws_dequant or self.ws_round else None)

    @property
    def family(self) -> str:
        """The simulator PE family of the cells (``hw/specs/vocab.py`` ``CELL_FAMILY``)."""
        return CELL_FAMILY[self.pe]

    @property
    def modes(self) -> tuple[Mode, ...]:
        """(weight, activation, lanes) modes the generated cells build (models/ names)."""
        return cell_modes(self.pe, w_bits=self.w_bits, a_bits=self.a_bits, act=self.act)

    @property
    def ws_dequant(self) -> bool:
        """MixPE group dequantization at the bottom edge of a weight-stationary array."""
        return self.dequant and self.dataflow == "ws"

    @property
    def ws_round(self) -> bool:
        """A weight-stationary array of a rounding-edge kind (``_EDGE_PES``): exact
        accumulator memories and one rounding per output at the bottom edge."""
        return self.dataflow == "ws" and self.pe in _EDGE_PES

    @property
    def float_out(self) -> bool:
        """Outputs are float (or posit16) patterns (``out``) from edge units: dequant,
        dequant_first, multiformat, fp16_mac."""
        return self.dequant or self.pe in _EDGE_PES

    @property
    def edge_latency(self) -> int:
        """Cycles the edge units add between a drained row and its result at ``o``."""
        if self.dequant:
            return EDGE_LATENCY["dequant_ws" if self.ws_dequant else "dequant"]
        if self.ws_round:
            return EDGE_LATENCY["round_ws"]
        return EDGE_LATENCY.get(self.pe, 0)

    def fold_group(self, group_size: int | None) -> int | None:
        """The group that cuts folds: the hardware ``group`` (dequant), none for the
        dequantize-first baseline (int32 over all of K), else the requested ``group_size``."""
        if self.dequant:
            if group_size is not None and group_size != self.group:
                raise ConfigError(f"must equal array.group ({self.group}) for a dequant array,"
                                  f" not {group_size}", path="group_size")
            return self.group
        return None if self.pe in _EDGE_PES else group_size

    def x_fields(self) -> list[tuple[str, int, int]]:
        """OS ``x`` payload fields ``(name, element bits, count)``, LSB first."""
        r, c = self.rows, self.cols
        f = [("a", self.act_bits, r), ("b", self.weight_bits, c)]
        if self.dequant:
            f += [("scale", 16, c), ("zero", 8, c)]
        elif self.pe == "dequant_first":
            f += [("zero", 8, c), ("sm", 8, c), ("tscale", 16, c)]
        elif self.mode_words:
            f += [("mode", 2, 1)]
        elif self.pe == "fp16_mac":
            f += [("scale", 16, c), ("zero", 8, c)]
        return f + [("last", 1, 1)]

    def w_fields(self) -> list[tuple[str, int, int]]:
        """WS ``w`` payload fields ``(name, element bits, count)``, LSB first, for ``dequant``
        and the rounding-edge kinds: the C weights (``data``), the per-column fields of
        :meth:`x_fields` (``scale`` / ``zero`` / ``sm`` / ``tscale``, or the 2-bit ``mode``),
        then ``last`` (the fold is its output tile's final K-fold)."""
        extra = [f for f in self.x_fields() if f[0] not in ("a", "b", "last")]
        return [("data", self.weight_bits, self.cols)] + extra + [("last", 1, 1)]

    @property
    def mode_words(self) -> bool:
        """16-bit SIMD operand words with a run-time ``mode`` (``multiformat``,
        ``shared_quire``, ``separate_macs``): K counts words, the x stream carries ``mode``."""
        return self.pe in _MODE_PES

    @property
    def separate_seg_bits(self) -> dict[str, int]:
        """``separate_macs``: width of each mode's accumulator in a cell, the fewest two's
        complement bits that hold any sum of ``max_k`` of its word terms
        (:data:`_SEPARATE_TERM_MAX`), capped at ``models.pe.SEPARATE_ACC`` (which wraps there,
        as the model): exact for ``max_k < 2**15``, the model's wrap beyond."""
        from mixforge.models.pe import SEPARATE_ACC

        return {md: min(SEPARATE_ACC[md][0], (self.max_k * t).bit_length() + 1)
                for md, t in _SEPARATE_TERM_MAX.items()}

    @property
    def weight_bits(self) -> int:
        if self.mode_words:
            return 16
        return 8 if self.pe == "posit8" else self.w_bits

    @property
    def act_bits(self) -> int:
        if self.pe in ("multiformat", "fp16_mac") or self.mode_words or self.act == "fp16":
            return 16
        return 8 if self.pe == "posit8" else self.a_bits

    @property
    def act_fixed_bits(self) -> int:
        """Width of a ``shift_add`` activation value inside the array: ``a_bits``, or 41 for
        FP16 (``ShiftAddArith.act``: exact signed fixed point at 2**-24)."""
        return FP16_FIXED_BITS if self.act == "fp16" else self.a_bits

    @property
    def prod_bits(self) -> int:
        """Two's complement width of one exact product."""
        if self.pe == "dequant_first":
            return 16
        if self.mode_words:  # separate_macs: its widest MAC's (posit16) term
            return _MF_TERM_BITS
        if self.pe == "fp16_mac":
            return _FP16_TERM_BITS
        return _POSIT8_PROD_BITS if self.pe == "posit8" else self.w_bits + self.act_fixed_bits

    @property
    def acc_bits(self) -> int:
        """Width of a partial sum: WS sums R products per fold; OS sums up to ``max_k``
        (``dequant``: one group; ``dequant_first``: int32, wrapping as the model does)."""
        if self.pe == "dequant_first":
            from mixforge.models.pe import DQ_ACC_BITS

            return DQ_ACC_BITS
        if self.pe == "separate_macs":  # the packed cell register (separate_seg_bits)
            return sum(self.separate_seg_bits.values()) + 4 + 2
        if self.pe in ("multiformat", "fp16_mac", "shared_quire"):
            from mixforge.models.pe import FP16MAC_ACC_BITS, QUIRE_BITS

            cap = FP16MAC_ACC_BITS if self.pe == "fp16_mac" else QUIRE_BITS
            return min(cap, self.prod_bits + _clog2(self.max_k))
        terms = self.rows if self.dataflow == "ws" else (self.group if self.dequant
                                                         else self.max_k)
        return self.prod_bits + _clog2(terms)

    @property
    def out_bits(self) -> int:
        """Width of one output element (OS posit8: the rounded 8-bit pattern; float outputs:
        16 or 32)."""
        if self.float_out:
            return 32 if self.out == "float32" else 16  # float16, posit16_es1
        if self.pe == "posit8" and self.dataflow == "os":
            return 8
        return self.acc_bits

    @property
    def has_nar(self) -> bool:
        """Outputs carry a NaR flag per column (posit8 WS partial sums)."""
        return self.pe == "posit8" and self.dataflow == "ws"

    @property
    def name(self) -> str:
        """A Verilog-safe name, e.g. ``array_ws_4x4_shift_add_w4a8``."""
        kind = (f"{self.pe}_w{self.w_bits}a{self.a_bits if self.act == 'int' else 16}"
                if self.pe != "posit8" else "posit8")
        if self.mode_words:
            kind = self.pe
        elif self.pe == "fp16_mac":
            kind = f"fp16_mac_w{self.w_bits}a16"
        if self.dequant:
            kind += f"_dq{self.group}" + (f"_m{self.acc_depth}" if self.ws_dequant else "")
        if self.ws_round:
            kind += f"_m{self.acc_depth}"
        if self.float_out:
            kind += {"float32": "_f32", "float16": "_f16", "posit16_es1": "_p16"}[self.out]
        db = "_db" if self.double_buffer else ""
        return f"array_{self.dataflow}{db}_{self.rows}x{self.cols}_{kind}"

    def params(self) -> dict[str, object]:
        d: dict[str, object] = {
            "rows": self.rows, "cols": self.cols, "dataflow": self.dataflow,
            "double_buffer": self.double_buffer, "pe": self.pe, "w_bits": self.w_bits,
            "a_bits": self.a_bits, "max_k": self.max_k, "dequant": self.dequant,
            "group": self.group, "out": self.out, "acc_depth": self.acc_depth}
        if self.act != "int":  # only when set: earlier records / build keys stay unchanged
            d["act"] = self.act
        return d


@dataclass(frozen=True)
class VerifyPlan:
    """What ``mixforge verify array`` runs: GEMM shapes ``[M, K, N]``, an optional
    quantization group along K (folds never straddle a group), and the RNG seed.
    ``modes`` (multiformat arrays): the run-time mode of each GEMM, cycled over the shapes
    (default: every mode of ``models.pe.MODES`` in turn)."""

    shapes: tuple[tuple[int, int, int], ...] = ((5, 7, 6), (4, 4, 4))
    group_size: int | None = None
    seed: int = 1
    modes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for i, s in enumerate(self.shapes):
            if len(s) != 3 or any(not isinstance(v, int) or v <= 0 for v in s):
                raise ConfigError(f"must be three positive integers [M, K, N], not {list(s)}",
                                  path=f"shapes[{i}]")
        if self.group_size is not None and self.group_size <= 0:
            raise ConfigError(f"must be a positive integer, not {self.group_size}",
                              path="group_size")
        from mixforge.models.pe import MODES

        for i, md in enumerate(self.modes or ()):
            if md not in MODES:
                raise ConfigError(f"must be one of {', '.join(MODES)}, not {md!r}",
                                  path=f"modes[{i}]")


@dataclass(frozen=True)
class ArrayFile:
    """A whole ``examples/array/*.yaml`` file."""

    array: ArrayConfig
    verify: VerifyPlan = field(default_factory=VerifyPlan)


def load_array_file(path: str | Path) -> ArrayFile:
    """Read and validate an array YAML file (``schema_version: 1``)."""
    from mixforge.config import from_dict, load_yaml

    return from_dict(ArrayFile, load_yaml(path), file=str(path))
