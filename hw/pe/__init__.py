"""Mixed-precision PEs (MixPE shift-and-add, XR-NPE multi-format SIMD MAC) and their baselines.

Components (``wiring.Component``, stream ports ``i``/``o``, keyword-only validated parameters,
``latency``/``throughput`` properties): :class:`ShiftAddPE`, :class:`MultiFormatMAC`,
:class:`DequantFirstPE`, :class:`FP16MacPE`, :class:`SharedQuireMAC` (separate multipliers,
shared quire), :class:`SeparateMacsMAC` (one complete MAC per format); :func:`build_pe` maps a
spec (:mod:`mixforge.hw.pe.specs`, pure Python, what sim/ imports) to its component. Reference
semantics: :mod:`mixforge.models.pe`.

Reusable combinational arithmetic for PE-array / PIM cells (:mod:`mixforge.hw.pe.arith`, no
``$mul`` anywhere), each ``f(m: Module, ...)`` or pure expression builders:

* ``shift_add_product(w, a, w_signed=True)`` - MixPE product ``sum_i w[i] (a << i)``;
  ``ternary_product(w2, a)`` for {-1, 0, +1} codes.
* ``fp16_to_fixed(m, bits)`` - FP16 -> exact 41-bit fixed point at 2**-24 + non-finite flag.
* ``decode_posit(m, bits, n=, es=)`` / ``decode_fp4(bits)`` -> ``Unpacked(sign, exp, sig,
  nar)`` with value ``±sig * 2**exp`` (the XR-NPE lane front end);
  ``decode_posit_es01(m, bits, es=, frac_bits=)`` - one run-time configurable decoder for
  posit(n, 0/1) and shorter posits left-aligned in n bits.
* ``leading_one(x)`` - log-depth leading-one detector.
* ``round_to_float(m, x, lsb=, fmt=)`` / ``round_to_posit(m, x, lsb=, n=, es=)`` - one
  rounding of a signed fixed-point value, exactly ``models.pe.round_fixed``;
  ``round_to_posit_lean`` - the same function as ``round_to_posit`` with less logic for wide
  accumulators (pruned normaliser, prefix-OR sticky).

Components and builders are imported lazily so that ``import mixforge.hw.pe`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ShiftAddPE", "MultiFormatMAC", "DequantFirstPE", "FP16MacPE", "SharedQuireMAC",
    "SeparateMacsMAC", "Mode", "build_pe", "export_pe", "run_pe_testbench", "shift_add_product",
    "ternary_product",
    "leading_one", "fp16_to_fixed", "adder_tree", "enabled_stage",
    "decode_posit", "decode_fp4", "round_to_float", "round_to_posit", "Unpacked",
    "decode_posit_es01", "round_to_posit_lean",
]

_WHERE = {
    "ShiftAddPE": "shift_add", "MultiFormatMAC": "multiformat", "DequantFirstPE": "baselines",
    "FP16MacPE": "baselines", "SharedQuireMAC": "multiformat", "Mode": "multiformat",
    "SeparateMacsMAC": "separate_macs",
    "build_pe": "build", "export_pe": "build", "run_pe_testbench": "build",
    **{n: "arith" for n in ("shift_add_product", "ternary_product", "leading_one",
                            "adder_tree", "enabled_stage",
                            "fp16_to_fixed", "decode_posit", "decode_fp4", "round_to_float",
                            "round_to_posit", "Unpacked", "decode_posit_es01",
                            "round_to_posit_lean")},
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"mixforge.hw.pe.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'mixforge.hw.pe' has no attribute {name!r}")
