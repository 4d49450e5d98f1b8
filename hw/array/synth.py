"""Yosys area figures of generated blocks (generic ``synth``; cell counts by type)."""

from __future__ import annotations

import json
import re
from typing import Any

from mixforge.errors import ToolchainError

__all__ = ["yosys_stat"]


def yosys_stat(verilog: str, top: str, *, flatten: bool = True,
               cmos: bool = False) -> dict[str, Any]:
    """Synthesize ``verilog`` (module ``top``) with Yosys' generic flow; return its ``stat``.

    Returns ``{"cells": total, "cell_types": {type: count}, "wires": ..., "wire_bits": ...,
    "has_mul": bool}``; ``has_mul`` is true when a ``$mul`` survived (shift-and-add cells must
    have none: checked on the pre-techmap netlist). With ``cmos`` also ``flip_flops``,
    ``cmos_transistors`` (``abc -g cmos2; stat -tech cmos``: combinational logic only, as
    ``mixforge.hw.pe.synth``) and ``cmos_transistors_incl_ff`` (+ ``TRANSISTORS_PER_FF`` per
    flip-flop bit).
    """
    from mixforge.toolchain import run_yosys

    fl = " -flatten" if flatten else ""
    script = (f"read_verilog -sv design.v\nhierarchy -top {top}\nproc; opt -fast\n"
              f"tee -q -o premap.json stat -json\n"
              f"synth -top {top}{fl}\ntee -q -o stat.json stat -json\n")
    if cmos:
        script += "abc -g cmos2\ntee -q -o cmos.json stat -json -tech cmos\n"
    _, out = run_yosys(script, {"design.v": verilog})
    if "stat.json" not in out:
        raise ToolchainError("yosys wrote no stat.json")
    stat = _module_stat(json.loads(_strip(out["stat.json"])), top)
    pre = _module_stat(json.loads(_strip(out["premap.json"])), top)
    types = {str(k): int(v) for k, v in stat.get("cells_by_type",
                                                  stat.get("num_cells_by_type", {})).items()}
    pre_types = pre.get("cells_by_type", pre.get("num_cells_by_type", {}))
    res: dict[str, Any] = {
        "cells": int(stat.get("num_cells", sum(types.values()))), "cell_types": types,
        "wires": int(stat.get("num_wires", 0)), "wire_bits": int(stat.get("num_wire_bits", 0)),
        "has_mul": any(str(t).startswith("$mul") for t in pre_types)}
    if cmos:
        from mixforge.hw.pe.synth import TRANSISTORS_PER_FF

        ffs = sum(v for k, v in types.items() if "DFF" in k.upper())
        tr = _module_stat(json.loads(_strip(out["cmos.json"])), top).get(
            "estimated_num_transistors", 0)
        tr = int(str(tr).rstrip("+") or 0)
        res.update(flip_flops=ffs, cmos_transistors=tr,
                   cmos_transistors_incl_ff=tr + TRANSISTORS_PER_FF * ffs)
    return res


def _strip(raw: bytes) -> str:
    text = raw.decode()
    return text[text.index("{"):] if "{" in text else text


def _module_stat(doc: dict[str, Any], top: str) -> dict[str, Any]:
    mods = doc.get("modules", {})
    for name, st in mods.items():
        if re.sub(r"^\\", "", name) == top:
            return dict(st)
    if "design" in doc:
        return dict(doc["design"])
    raise ToolchainError(f"yosys stat has no module {top!r}")
