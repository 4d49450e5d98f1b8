"""Systolic PE arrays (weight- / output-stationary) and their measured timing.

Cells: MixPE INT(w)xINT(a) shift-and-add (``hw/pe/arith.shift_add_product``), posit(8,0)
(``arith.decode_posit`` / ``round_to_posit``), the dequantize-first INT8 multiplier baseline, the
XR-NPE multiformat MAC (run-time mode fp4x4 / p4x4 / p8x2 / p16x1, ``hw/pe/multiformat.py``'s
decoders, mode-split multiplier and quire alignment) and the W(k)A16 FP16-MAC baseline
(``hw/pe/baselines.py``), the last three output-stationary with one rounding per output.
The OS and WS shift-and-add arrays can end every column in a MixPE group-dequant unit
(``hw/pe/dequant.py``, shared with ``ShiftAddPE``; WS: with per-row accumulator memories,
``hw/array/ws_edge.py``) and then return float32/float16 results bit-exact with
``mixforge.models.pe.shift_add_pe``.

Pure-Python names (configs, tiling, spec) import without Amaranth; :class:`PEArray` and the
cell builders load Amaranth on first use, so ``mixforge.hw.array.cli`` stays cheap to import.
"""

from __future__ import annotations

from typing import Any

from mixforge.hw.array.config import ArrayConfig, ArrayFile, VerifyPlan, load_array_file
from mixforge.hw.specs.array import ArraySpec

__all__ = ["ArrayConfig", "ArrayFile", "VerifyPlan", "ArraySpec", "load_array_file",
           "PEArray", "measure_gemm_cycles", "run_array_tb", "GemmMeasurement", "ArrayRun"]

_LAZY = {"PEArray": "mixforge.hw.array.pe_array",
         "measure_gemm_cycles": "mixforge.hw.array.measure",
         "run_array_tb": "mixforge.hw.array.measure",
         "GemmMeasurement": "mixforge.hw.array.measure",
         "ArrayRun": "mixforge.hw.array.measure"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
