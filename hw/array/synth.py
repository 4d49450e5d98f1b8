"""Yosys area figures of generated blocks (generic ``synth``; cell counts by type).

:func:`synth_array` is the one entry point for a PE array's area (``mixforge synth array`` and
``benchmarks/bench_array.py`` both call it). Arrays with memories (the WS group-dequant edge's
per-row accumulator memories, :mod:`mixforge.hw.array.ws_edge`) keep them by default as Yosys
``$mem`` cells, i.e. SRAM macros in a real flow, with the flow of :mod:`mixforge.hw.pim.synth`:
``memory_bits`` and each memory's shape are reported apart, never as gates. With
``memories="ff"`` Yosys' plain ``synth`` maps them to flip-flops and multiplexers
(``memory_map``) and they count in ``cells`` / ``flip_flops`` / ``cmos_transistors_incl_ff``:
the figure of a register-file implementation (much larger: e.g. 4x4 WS, ``acc_depth`` 8).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from mixforge.errors import ToolchainError

if TYPE_CHECKING:
    from mixforge.hw.array.config import ArrayConfig

__all__ = ["yosys_stat", "synth_array", "rtlil_memories", "MEMORY_MODES"]

#: ``synth_array(memories=...)``: keep ``$mem`` cells (SRAM, bits apart) or map them to FFs.
MEMORY_MODES = ("keep", "ff")


def synth_array(cfg: ArrayConfig, *, memories: str = "keep") -> dict[str, Any]:
    """Area figures of the array ``cfg`` (generic Yosys ``synth`` + ``abc -g cmos2``).

    Returns ``name``, ``config``, ``cells`` (logic cells; kept memories excluded),
    ``cells_by_type``, ``flip_flops``, ``cmos_transistors`` (combinational logic),
    ``cmos_transistors_incl_ff``, ``has_mul``, and ``memory_mapping`` (``"none"`` for an array
    without memories, else ``memories``), ``memories`` (count), ``memory_bits`` and
    ``memory_shapes`` (``[{"name", "width", "depth", "bits"}]``, as Yosys found them). With
    ``"keep"`` the memory bits are not in ``cells``; with ``"ff"`` they are (as flip-flops).
    Arrays without memories get the same figures in both modes.
    """
    from mixforge.hw.array.measure import generate_array

    if memories not in MEMORY_MODES:
        raise ValueError(f"memories must be one of {', '.join(MEMORY_MODES)}, not {memories!r}")
    verilog = generate_array(cfg).read_text()
    mems = cfg.ws_dequant or cfg.ws_round  # WS edge accumulator memories
    if mems and memories == "keep":
        from mixforge.hw.pim.synth import synth_pim_verilog

        st = synth_pim_verilog(verilog, cfg.name)
        shapes = st["memory_shapes"]
    else:
        st = yosys_stat(verilog, cfg.name, cmos=True, memories=mems)
        st["cells_by_type"] = st.pop("cell_types")
        shapes = st.get("memory_shapes", [])
    keys = ("cells", "cells_by_type", "flip_flops", "cmos_transistors",
            "cmos_transistors_incl_ff", "has_mul")
    return {"name": cfg.name, "config": cfg.params(), **{k: st[k] for k in keys},
            "memory_mapping": memories if shapes else "none", "memories": len(shapes),
            "memory_bits": sum(s["bits"] for s in shapes), "memory_shapes": shapes}


def yosys_stat(verilog: str, top: str, *, flatten: bool = True,
               cmos: bool = False, memories: bool = False) -> dict[str, Any]:
    """Synthesize ``verilog`` (module ``top``) with Yosys' generic flow; return its ``stat``.

    Returns ``{"cells": total, "cell_types": {type: count}, "wires": ..., "wire_bits": ...,
    "has_mul": bool}``; ``has_mul`` is true when a ``$mul`` survived (shift-and-add cells must
    have none: checked on the pre-techmap netlist). With ``cmos`` also ``flip_flops``,
    ``cmos_transistors`` (``abc -g cmos2; stat -tech cmos``: combinational logic only, as
    ``mixforge.hw.pe.synth``) and ``cmos_transistors_incl_ff`` (+ ``TRANSISTORS_PER_FF`` per
    flip-flop bit). With ``memories`` also ``memory_shapes`` (:func:`rtlil_memories`) of the
    ``$mem`` cells that ``synth`` then maps to flip-flops (its run is split at ``fine`` to
    list them; the figures are those of one plain ``synth``).
    """
    from mixforge.toolchain import run_yosys

    fl = " -flatten" if flatten else ""
    script = (f"read_verilog -sv design.v\nhierarchy -top {top}\nproc; opt -fast\n"
              f"tee -q -o premap.json stat -json\n")
    if memories:
        script += (f"synth -top {top}{fl} -run begin:fine\ntee -q -o mem.il dump t:$mem_v2\n"
                   f"synth -top {top}{fl} -run fine:\n")
    else:
        script += f"synth -top {top}{fl}\n"
    script += "tee -q -o stat.json stat -json\n"
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
    if memories:
        res["memory_shapes"] = rtlil_memories(out.get("mem.il", b"").decode())
    if cmos:
        from mixforge.hw.pe.synth import TRANSISTORS_PER_FF

        ffs = sum(v for k, v in types.items() if "DFF" in k.upper())
        tr = _module_stat(json.loads(_strip(out["cmos.json"])), top).get(
            "estimated_num_transistors", 0)
        tr = int(str(tr).rstrip("+") or 0)
        res.update(flip_flops=ffs, cmos_transistors=tr,
                   cmos_transistors_incl_ff=tr + TRANSISTORS_PER_FF * ffs)
    return res


def rtlil_memories(dump: str) -> list[dict[str, Any]]:
    """The ``$mem_v2`` cells of an RTLIL dump: ``[{"name", "width", "depth", "bits"}]``."""
    shapes: list[dict[str, Any]] = []
    name, params = "", dict[str, int]()
    for line in dump.splitlines():
        words = line.split()
        if words[:2] == ["cell", "$mem_v2"] and len(words) == 3:
            name, params = words[2].lstrip("\\"), {}
        elif words[:1] == ["parameter"] and len(words) == 3 and words[2].isdigit():
            params[words[1].lstrip("\\")] = int(words[2])
        elif words[:1] == ["end"] and name:
            width, depth = params.get("WIDTH", 0), params.get("SIZE", 0)
            shapes.append({"name": name, "width": width, "depth": depth,
                           "bits": width * depth})
            name = ""
    return sorted(shapes, key=lambda s: s["name"])


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
