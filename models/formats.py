"""The ``NumberFormat`` descriptor shared by models/, hw/ and sim/, and the format registry.

A ``NumberFormat`` only *describes* a format (widths, kind, spec defaults); the arithmetic lives
in the other models/ modules, which dispatch on ``kind``. hw/ and sim/ read widths from here so
that the three packages can never disagree about what e.g. ``float4_e2m1fn`` is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mixforge.errors import FormatError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

__all__ = ["NumberFormat", "Kind", "Overflow", "get_format", "format_names", "format_aliases",
           "ROUNDINGS"]

Kind = Literal["int", "float", "posit"]
Overflow = Literal["saturate", "to_inf", "to_nan", "wrap"]
#: TestFloat rounding-mode names.
ROUNDINGS = ("near_even", "near_maxMag", "minMag", "min", "max")


@dataclass(frozen=True)
class NumberFormat:
    """Description of one number format.

    Parameters
    ----------
    name
        Canonical name (ml_dtypes spelling for floats, ``int4``/``uint8``, ``posit16_es1``).
    kind
        ``"int"`` (two's complement or unsigned), ``"float"`` (IEEE-like minifloat) or ``"posit"``.
    bits
        Total storage width in bits (bit patterns are unsigned integers below ``2**bits``).
    signed
        Integers only: two's complement when true. Floats and posits are always signed.
    exp_bits, man_bits
        Floats only: exponent and stored mantissa field widths (sign and hidden bit excluded).
    bias
        Floats only: exponent bias.
    finite_only
        Floats only: no infinities (``fn`` suffix); ``nan_style`` says how NaN is encoded.
    nan_style
        ``"ieee"`` (all-ones exponent, nonzero mantissa), ``"all_ones"`` (only S.1111.111 is NaN,
        e.g. float8_e4m3fn) or ``"none"`` (no NaN, e.g. float4_e2m1fn).
    es
        Posits only: exponent-field width.
    overflow
        Default overflow policy of the spec (``wrap`` for integers, ``saturate`` for posits and
        for OCP ``fn`` formats without inf/NaN, ``to_inf`` for IEEE-like formats with infinities,
        ``to_nan`` for finite formats that have a NaN encoding, as ml_dtypes does).
    """

    name: str
    kind: Kind
    bits: int
    signed: bool = True
    exp_bits: int = 0
    man_bits: int = 0
    bias: int = 0
    finite_only: bool = False
    nan_style: Literal["ieee", "all_ones", "none"] = "none"
    es: int = 0
    overflow: Overflow = "wrap"

    @property
    def storage_dtype(self) -> str:
        """The smallest NumPy unsigned dtype name holding a bit pattern (``"uint8"`` ...)."""
        for width in (8, 16, 32, 64):
            if self.bits <= width:
                return f"uint{width}"
        raise FormatError(f"{self.name}: {self.bits} bits do not fit uint64")

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "posit"):
            raise FormatError(f"{self.name}: kind must be int, float or posit, not {self.kind!r}")
        if self.kind == "posit":
            if not 2 <= self.bits <= 32:
                raise FormatError(f"{self.name}: posit n must be in 2..32, not {self.bits}")
            if not 0 <= self.es <= 4:
                raise FormatError(f"{self.name}: posit es must be in 0..4, not {self.es}")
        elif self.kind == "int":
            if not 2 <= self.bits <= 32:
                raise FormatError(f"{self.name}: integer width must be in 2..32, not {self.bits}")
        else:
            widths_ok = 1 + self.exp_bits + self.man_bits == self.bits
            if self.exp_bits < 1 or self.man_bits < 0 or not widths_ok:
                raise FormatError(
                    f"{self.name}: 1 + exp_bits + man_bits must equal bits "
                    f"({self.exp_bits}, {self.man_bits}, {self.bits})")
            if self.finite_only == (self.nan_style == "ieee"):
                raise FormatError(f"{self.name}: finite_only={self.finite_only} contradicts "
                                  f"nan_style={self.nan_style!r}")
        if self.overflow not in ("saturate", "to_inf", "to_nan", "wrap"):
            raise FormatError(f"{self.name}: unknown overflow policy {self.overflow!r}")

    @property
    def mask(self) -> int:
        """``2**bits - 1``."""
        return (1 << self.bits) - 1

    # ---- derived constants (floats) ----
    @property
    def emin(self) -> int:
        """Floats: exponent of the smallest normal number (``1 - bias``)."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Floats: exponent of the largest finite number."""
        top = (1 << self.exp_bits) - 1
        return (top - 1 if self.nan_style == "ieee" else top) - self.bias

    @property
    def max_code(self) -> int:
        """Bit pattern of the largest finite positive value (maxpos for posits)."""
        if self.kind == "posit":
            return (1 << (self.bits - 1)) - 1
        if self.kind == "int":
            return (1 << (self.bits - 1)) - 1 if self.signed else self.mask
        body = (1 << (self.bits - 1)) - 1
        if self.nan_style == "ieee":
            return (((1 << self.exp_bits) - 1) << self.man_bits) - 1
        return body - 1 if self.nan_style == "all_ones" else body

    @property
    def nan_code(self) -> int | None:
        """Canonical positive NaN pattern (NaR for posits); ``None`` when there is none."""
        if self.kind == "posit":
            return 1 << (self.bits - 1)
        if self.kind == "int" or self.nan_style == "none":
            return None
        if self.nan_style == "all_ones":
            return (1 << (self.bits - 1)) - 1
        quiet = 1 << (self.man_bits - 1) if self.man_bits else 0
        return (((1 << self.exp_bits) - 1) << self.man_bits) | max(quiet, 1)

    @property
    def inf_code(self) -> int | None:
        """Pattern of +inf, or ``None`` for formats without infinities."""
        if self.kind == "float" and not self.finite_only:
            return ((1 << self.exp_bits) - 1) << self.man_bits
        return None

    # ---- codec (implemented in mixforge.models.codec) ----
    def encode(self, x: ArrayLike, rounding: str = "near_even",
               overflow: Overflow | None = None) -> np.ndarray:
        """Round real values into this format; see :func:`mixforge.models.codec.encode`."""
        from mixforge.models.codec import encode

        return encode(self, x, rounding=rounding, overflow=overflow)

    def decode(self, bits: ArrayLike) -> np.ndarray:
        """Bit patterns to float64 values; see :func:`mixforge.models.codec.decode`."""
        from mixforge.models.codec import decode

        return decode(self, bits)


_FLOATS: dict[str, NumberFormat] = {
    f.name: f
    for f in (
        NumberFormat("float4_e2m1fn", "float", 4, exp_bits=2, man_bits=1, bias=1,
                     finite_only=True, nan_style="none", overflow="saturate"),
        NumberFormat("float6_e2m3fn", "float", 6, exp_bits=2, man_bits=3, bias=1,
                     finite_only=True, nan_style="none", overflow="saturate"),
        NumberFormat("float6_e3m2fn", "float", 6, exp_bits=3, man_bits=2, bias=3,
                     finite_only=True, nan_style="none", overflow="saturate"),
        NumberFormat("float8_e4m3fn", "float", 8, exp_bits=4, man_bits=3, bias=7,
                     finite_only=True, nan_style="all_ones", overflow="to_nan"),
        NumberFormat("float8_e5m2", "float", 8, exp_bits=5, man_bits=2, bias=15,
                     nan_style="ieee", overflow="to_inf"),
        NumberFormat("float16", "float", 16, exp_bits=5, man_bits=10, bias=15,
                     nan_style="ieee", overflow="to_inf"),
        NumberFormat("bfloat16", "float", 16, exp_bits=8, man_bits=7, bias=127,
                     nan_style="ieee", overflow="to_inf"),
        NumberFormat("float32", "float", 32, exp_bits=8, man_bits=23, bias=127,
                     nan_style="ieee", overflow="to_inf"),
    )
}
_ALIASES = {"fp4": "float4_e2m1fn", "e2m1": "float4_e2m1fn", "float4": "float4_e2m1fn",
            "fp6_e2m3": "float6_e2m3fn", "e2m3": "float6_e2m3fn",
            "fp6_e3m2": "float6_e3m2fn", "e3m2": "float6_e3m2fn",
            "fp8": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn", "e4m3": "float8_e4m3fn",
            "float8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2", "e5m2": "float8_e5m2",
            "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp32": "float32",
            "float": "float32",
            # the XR-NPE posit set (PAPERS.md): posit(4,1), posit(8,0), posit(16,1)
            "posit4": "posit4_es1", "posit8": "posit8_es0", "posit16": "posit16_es1"}
_INT_RE = re.compile(r"^(u?)int(\d+)$")
_POSIT_RE = re.compile(r"^posit(\d+)_es(\d+)$")


def get_format(name: str | NumberFormat) -> NumberFormat:
    """Return the format called ``name`` (a ``NumberFormat`` is returned unchanged).

    Names: ``int2``..``int16``, ``uint2``..``uint16``, the minifloats listed by
    :func:`format_names`, ``posit{n}_es{es}`` for 2 <= n <= 32 and 0 <= es <= 4, and a few aliases
    (``fp4``, ``fp16``, ``bf16`` ...). Raises ``FormatError`` naming the offending value.
    """
    if isinstance(name, NumberFormat):
        return name
    if not isinstance(name, str):
        raise FormatError(f"format name must be a string, not {name!r}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key in _FLOATS:
        return _FLOATS[key]
    m = _INT_RE.match(key)
    if m:
        width = int(m.group(2))
        if not 2 <= width <= 32:
            raise FormatError(f"integer width must be in 2..32, not {width} ({name!r})")
        signed = m.group(1) == ""
        return NumberFormat(key, "int", width, signed=signed, overflow="wrap")
    m = _POSIT_RE.match(key)
    if m:
        n, es = int(m.group(1)), int(m.group(2))
        if not 2 <= n <= 32:
            raise FormatError(f"posit n must be in 2..32, not {n} ({name!r})")
        if not 0 <= es <= 4:
            raise FormatError(f"posit es must be in 0..4, not {es} ({name!r})")
        return NumberFormat(key, "posit", n, es=es, overflow="saturate")
    raise FormatError(f"unknown number format {name!r} (known: {', '.join(format_names())})")


def format_aliases(name: str) -> list[str]:
    """Every alias :func:`get_format` accepts for the format called ``name`` (canonical name)."""
    canonical = get_format(name).name
    return [alias for alias, target in _ALIASES.items() if target == canonical]


def format_names() -> list[str]:
    """Representative format names (every ``posit{n}_es{es}`` is valid too)."""
    return ["int2", "int4", "int8", "uint4", "uint8", *_FLOATS, "posit4_es1", "posit8_es0",
            "posit16_es1", "posit32_es2"]
