"""Area of the logic-PIM unit: Yosys generic cells with the activation buffer kept as a memory.

Yosys' plain ``synth`` runs ``memory_map``, which turns the activation SRAM into flip-flops and
multiplexers (that is what a 182,900-cell figure once measured). Here the flow stops before
``memory_map``: the buffer stays one ``$mem_v2`` cell (an SRAM macro in a real flow), the rest is
mapped to Yosys internal gates (``techmap; abc``) and to ``abc -g cmos2`` for a CMOS transistor
estimate, as :mod:`mixforge.hw.pe.synth` does. Reported: ``cells`` (logic cells excluding the
memory), ``flip_flops``, ``cmos_transistors`` (combinational logic; ``..._incl_ff`` adds
:data:`~mixforge.hw.pe.synth.TRANSISTORS_PER_FF` per flip-flop bit), and the memory separately
(``memories``, ``memory_bits``, ``memory_shapes``), never as gates.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mixforge.errors import ToolchainError
from mixforge.hw.pim.config import PimUnitConfig

__all__ = ["synth_pim", "synth_pim_verilog", "LANE_VARIANTS"]

#: Lane types whose area ``benchmarks/bench_pim.py`` reports: (weight formats, act formats).
LANE_VARIANTS = {
    "int4/int8 x int8": (("int4", "int8"), ("int8",)),
    "int4/int8/fp4/posit8 x int8": (("int4", "int8", "fp4", "posit8"), ("int8",)),
    "int4/int8 x int8/fp16": (("int4", "int8"), ("int8", "fp16")),
    "all: int4/int8/fp4/posit8 x int8/fp16": (("int4", "int8", "fp4", "posit8"),
                                              ("int8", "fp16")),
    "fp8 e4m3/e5m2 x fp8 e4m3/e5m2": (("fp8_e4m3", "fp8_e5m2"), ("fp8_e4m3", "fp8_e5m2")),
    "fp8/fp16 x fp16/fp8": (("fp8_e4m3", "fp8_e5m2", "fp16"),
                            ("fp16", "fp8_e4m3", "fp8_e5m2")),
    "duplex: int4/fp8/fp16/bf16 x fp16/bf16/fp8": (
        ("int4", "fp8_e4m3", "fp8_e5m2", "fp16", "bf16"),
        ("fp16", "bf16", "fp8_e4m3", "fp8_e5m2")),
}


def synth_pim_verilog(verilog: str, top: str) -> dict[str, Any]:
    """Yosys figures of a logic-PIM unit's Verilog (see the module docstring)."""
    from mixforge.hw.array.synth import rtlil_memories
    from mixforge.hw.pe.synth import TRANSISTORS_PER_FF
    from mixforge.toolchain import run_yosys

    t0 = time.perf_counter()
    script = (f"read_verilog -sv design.v\nhierarchy -top {top}\nproc; opt -fast\n"
              "tee -q -o premap.json stat -json\n"
              f"synth -top {top} -flatten -run begin:fine\n"
              "opt -fast -full\ntechmap\nopt -fast\nabc\nopt -fast\n"
              "tee -q -o generic.json stat -json\ntee -q -o mem.il dump t:$mem_v2\n"
              "abc -g cmos2\ntee -q -o cmos.json stat -json -tech cmos\n")
    _, out = run_yosys(script, {"design.v": verilog})
    for name in ("premap.json", "generic.json", "cmos.json"):
        if name not in out:
            raise ToolchainError(f"yosys wrote no {name}")
    gen = _top(out["generic.json"], top)
    cmos = _top(out["cmos.json"], top)
    pre = _top(out["premap.json"], top)
    types = {str(k): int(v) for k, v in gen.get("num_cells_by_type", {}).items()}
    mems = {k: v for k, v in types.items() if k.startswith("$mem")}
    logic = {k: v for k, v in types.items() if k not in mems}
    ffs = sum(v for k, v in logic.items() if "DFF" in k.upper())
    tr_raw = str(cmos.get("estimated_num_transistors", "0"))
    tr = int(tr_raw.rstrip("+") or 0)
    shapes = rtlil_memories(out.get("mem.il", b"").decode())
    return {"cells": sum(logic.values()), "cells_by_type": dict(sorted(logic.items())),
            "flip_flops": ffs, "cmos_transistors": tr,
            "cmos_transistors_incl_ff": tr + TRANSISTORS_PER_FF * ffs,
            "memories": sum(mems.values()), "memory_bits": sum(s["bits"] for s in shapes),
            "memory_shapes": shapes,
            "has_mul": any(str(t).startswith("$mul")
                           for t in pre.get("num_cells_by_type", {})),
            "yosys_s": round(time.perf_counter() - t0, 1)}


def synth_pim(config: PimUnitConfig) -> dict[str, Any]:
    """Figures for ``config`` (adds its parameters, lane count, and the buffer's size)."""
    from mixforge.hw.pim.measure import generate_pim

    st = synth_pim_verilog(generate_pim(config).read_text(), config.name)
    return {"name": config.name, "config": config.params(), "lanes": config.lanes,
            "buffer_bits": config.max_tokens * config.max_k_words * config.word_bits, **st}


def _top(raw: bytes, top: str) -> dict[str, Any]:
    text = raw.decode()
    doc = json.loads(text[text.index("{"):])
    for name, st in doc.get("modules", {}).items():
        if name.lstrip("\\") == top:
            return dict(st)
    return dict(doc.get("design", {}))
