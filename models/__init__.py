"""mixforge.models: bit-exact NumPy reference models of number formats and PE arithmetic.

Bit patterns are unsigned integer arrays; every operation computes its exact result and
rounds once (see :mod:`mixforge.models.exact`). The PE semantics live in ``models/pe.py``.
"""

from mixforge.models.arith import add, convert, fma, mul
from mixforge.models.codec import decode, encode
from mixforge.models.exact import decode_exact, round_scaled
from mixforge.models.formats import NumberFormat, format_names, get_format
from mixforge.models.gemm import (
    gemm,
    gemm_ideal,
    group_gemm_dequant_first,
    group_gemm_late_dequant,
)
from mixforge.models.groupq import GroupQuant, group_dequantize, group_quantize
from mixforge.models.mx import mx_dequantize, mx_quantize
from mixforge.models.quire import Quire, quire_dot, quire_madd, quire_to_posit

__all__ = [
    "NumberFormat", "get_format", "format_names",
    "encode", "decode", "decode_exact", "round_scaled",
    "mul", "add", "fma", "convert",
    "Quire", "quire_madd", "quire_to_posit", "quire_dot",
    "mx_quantize", "mx_dequantize",
    "GroupQuant", "group_quantize", "group_dequantize",
    "gemm", "gemm_ideal", "group_gemm_late_dequant", "group_gemm_dequant_first",
]
