"""Pure-Python configuration of a generated PE array (no Amaranth import).

:class:`ArrayConfig` names everything the generator needs (size, dataflow, cell type, operand
widths) and derives the datapath widths and the timing spec (:class:`ArraySpec`) from it, so the
CLI, the testbench and sim/ read one object. :func:`load_array_file` reads the YAML form::

    schema_version: 1
    array: {rows: 4, cols: 4, dataflow: ws, pe: shift_add, w_bits: 4}
    verify: {shapes: [[5, 7, 6], [9, 16, 4]], group_size: 8, seed: 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mixforge.errors import ConfigError
from mixforge.hw.specs.array import ArraySpec

__all__ = ["ArrayConfig", "ArrayFile", "VerifyPlan", "PeKind", "load_array_file",
           "POSIT8_FIXED_LSB"]

PeKind = Literal["shift_add", "posit8"]

#: Exponent of the LSB of a posit(8,0) product in the array's fixed-point sums: every posit(8,0)
#: value is a multiple of minpos = 2**-6, so every product is a multiple of 2**-12.
POSIT8_FIXED_LSB = -12
#: Bits of the largest |posit(8,0) product| * 2**12 = 64 * 64 * 2**12 = 2**24, plus sign.
_POSIT8_PROD_BITS = 26


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
    w_bits, a_bits
        Integer operand widths (2..8 each); ignored for ``posit8`` (fixed at 8).
    max_k
        OS only: the largest K the accumulators hold exactly (sets their width); 1..2**20.
    """

    rows: int = 4
    cols: int = 4
    dataflow: Literal["ws", "os"] = "ws"
    double_buffer: bool = False
    pe: PeKind = "shift_add"
    w_bits: int = 4
    a_bits: int = 8
    max_k: int = 4096

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 64:
                raise ConfigError(f"must be an integer in 1..64, not {v!r}", path=name)
        if self.pe not in ("shift_add", "posit8"):
            raise ConfigError(f"must be 'shift_add' or 'posit8', not {self.pe!r}", path="pe")
        for name in ("w_bits", "a_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 2 <= v <= 8:
                raise ConfigError(f"must be an integer in 2..8, not {v!r}", path=name)
        if (not isinstance(self.max_k, int) or isinstance(self.max_k, bool)
                or not 1 <= self.max_k <= 1 << 20):
            raise ConfigError(f"must be an integer in 1..1048576, not {self.max_k!r}",
                              path="max_k")
        self.spec  # noqa: B018 -- validates dataflow / double_buffer with the spec's messages

    @property
    def spec(self) -> ArraySpec:
        """The timing spec (what sim/ uses)."""
        return ArraySpec(rows=self.rows, cols=self.cols, dataflow=self.dataflow,
                         double_buffer=self.double_buffer)

    @property
    def weight_bits(self) -> int:
        return 8 if self.pe == "posit8" else self.w_bits

    @property
    def act_bits(self) -> int:
        return 8 if self.pe == "posit8" else self.a_bits

    @property
    def prod_bits(self) -> int:
        """Two's complement width of one exact product."""
        return _POSIT8_PROD_BITS if self.pe == "posit8" else self.w_bits + self.a_bits

    @property
    def acc_bits(self) -> int:
        """Width of a partial sum: WS sums R products per fold; OS sums up to ``max_k``."""
        terms = self.rows if self.dataflow == "ws" else self.max_k
        return self.prod_bits + _clog2(terms)

    @property
    def out_bits(self) -> int:
        """Width of one output element (OS posit8: the rounded 8-bit pattern)."""
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
        kind = f"shift_add_w{self.w_bits}a{self.a_bits}" if self.pe == "shift_add" else "posit8"
        db = "_db" if self.double_buffer else ""
        return f"array_{self.dataflow}{db}_{self.rows}x{self.cols}_{kind}"

    def params(self) -> dict[str, object]:
        return {"rows": self.rows, "cols": self.cols, "dataflow": self.dataflow,
                "double_buffer": self.double_buffer, "pe": self.pe, "w_bits": self.w_bits,
                "a_bits": self.a_bits, "max_k": self.max_k}


@dataclass(frozen=True)
class VerifyPlan:
    """What ``mixforge verify array`` runs: GEMM shapes ``[M, K, N]``, an optional
    quantization group along K (folds never straddle a group), and the RNG seed."""

    shapes: tuple[tuple[int, int, int], ...] = ((5, 7, 6), (4, 4, 4))
    group_size: int | None = None
    seed: int = 1

    def __post_init__(self) -> None:
        for i, s in enumerate(self.shapes):
            if len(s) != 3 or any(not isinstance(v, int) or v <= 0 for v in s):
                raise ConfigError(f"must be three positive integers [M, K, N], not {list(s)}",
                                  path=f"shapes[{i}]")
        if self.group_size is not None and self.group_size <= 0:
            raise ConfigError(f"must be a positive integer, not {self.group_size}",
                              path="group_size")


@dataclass(frozen=True)
class ArrayFile:
    """A whole ``examples/array/*.yaml`` file."""

    array: ArrayConfig
    verify: VerifyPlan = field(default_factory=VerifyPlan)


def load_array_file(path: str | Path) -> ArrayFile:
    """Read and validate an array YAML file (``schema_version: 1``)."""
    from mixforge.config import from_dict, load_yaml

    return from_dict(ArrayFile, load_yaml(path), file=str(path))
