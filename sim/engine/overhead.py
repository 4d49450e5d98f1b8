"""Fixed per-kernel cost of an op on a GPU-like xPU: launch gap plus pipeline fill and drain.

The tile pipeline (:mod:`mixforge.sim.engine.gemm`) streams from ``t = 0`` at full bandwidth and
ends when the last tile's compute ends. A real kernel also pays, once per kernel:

* **launch gap** (``xpu.launch_gap_s``, a device field from a published measurement): the time
  between the end of one kernel and the first instruction of the next dependent one, during
  which no core works;
* **fill** (derived): the first operand tile arrives one DRAM load latency
  (``xpu.mem_latency_cycles``) after the cores start: nothing overlaps it (the tile pipeline
  already charges its DRAM-array part, tRCD + CL, so only the rest is added here);
* **drain** (derived): the last outputs are stored after the last compute, one more latency
  before the kernel can retire.

``overhead = kernels * (launch_gap_s + 2 * mem_latency_cycles / clock - (tRCD + CL))``, at the
clock the op ran at (a power-limited op sees the latency in its own, lower clock's cycles). It is a
hand-modelled constant per kernel, not a command-level replay: steady-state bandwidth and the
last wave's tail are the tile pipeline's (engine/gemm.py). The extra time leaks static power
(the cores are powered but idle) and adds nothing else to the energy.
"""

from __future__ import annotations

import dataclasses
import math

from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.results import OpResult

__all__ = ["kernel_overhead_s", "with_overhead", "OVERHEAD_MODEL"]

#: One-line statement of the model, for result notes.
OVERHEAD_MODEL = ("per kernel: xpu.launch_gap_s (published) + fill + drain = 2 DRAM latencies "
                  "(xpu.mem_latency_cycles at the op's clock) - tRCD - CL (already in the "
                  "pipeline); hand-modelled")


def kernel_overhead_s(arch: ArchConfig, clock_hz: float, kernels: int = 1) -> float:
    """Fixed seconds ``kernels`` dependent kernels add on ``arch`` at ``clock_hz`` (module doc)."""
    x = arch.xpu
    clock = clock_hz if clock_hz > 0 else x.freq_hz
    lat = x.mem_latency_cycles / clock
    # the pipeline already charges the DRAM-array part of the first access (tRCD + CL, once per
    # op: engine/gemm.py, engine/units.py); the fill adds the rest of the load latency
    t = arch.hbm.timing
    fill = max(0.0, lat - (t.t_rcd_ns + t.t_cl_ns) * 1e-9)
    return kernels * (x.launch_gap_s + fill + lat)


def with_overhead(arch: ArchConfig, res: OpResult, kernels: int = 1) -> OpResult:
    """``res`` (an xPU op) with the fixed per-kernel cost added to its time, cycles and static
    energy, and recorded in ``overhead_s``; PIM ops are returned unchanged."""
    if res.unit != "xpu":
        return res
    extra = kernel_overhead_s(arch, res.clock_hz, kernels)
    if extra <= 0:
        return res
    secs = res.seconds + extra
    static_w = res.energy.static_j / res.seconds if res.seconds > 0 else 0.0
    energy = dataclasses.replace(res.energy, static_j=res.energy.static_j + static_w * extra)
    clock = res.clock_hz if res.clock_hz > 0 else arch.xpu.freq_hz
    return dataclasses.replace(res, seconds=secs, energy=energy,
                               cycles=res.cycles + math.ceil(extra * clock - 1e-9),
                               utilisation=res.utilisation * res.seconds / secs,
                               overhead_s=res.overhead_s + extra)
