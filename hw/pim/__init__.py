"""Logic-PIM blocks (Duplex-style processing units on the HBM logic die).

Configs import without Amaranth; :class:`LogicPIMUnit` loads it on first use.
"""

from __future__ import annotations

from typing import Any

from mixforge.hw.pim.config import (
    DramModel,
    PimConfig,
    PimFile,
    PimUnitConfig,
    PimVerify,
    load_pim_file,
)

__all__ = ["PimUnitConfig", "PimConfig", "DramModel", "PimVerify", "PimFile", "load_pim_file",
           "LogicPIMUnit", "run_pim_tb", "PimRun", "synth_pim"]

_LAZY = {"LogicPIMUnit": "mixforge.hw.pim.unit", "run_pim_tb": "mixforge.hw.pim.measure",
         "PimRun": "mixforge.hw.pim.measure", "synth_pim": "mixforge.hw.pim.synth"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
