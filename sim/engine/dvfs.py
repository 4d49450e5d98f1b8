"""Sustained clock under the device's power limit (DVFS), from the node-scaled energy.

Real accelerators run below their boost clock when an op would draw more than the board power
limit (``xpu.power_limit_w``). The law used here:

* dynamic energy per action scales with ``V**2`` (``P_dyn = a C V**2 f``; N. Weste and D.
  Harris, *CMOS VLSI Design*, 4th ed., 2011, Sec. 5.2), and over the DVFS range the supply
  voltage is taken proportional to the clock, ``V / V_boost = f / f_boost`` (the first-order
  relation behind the cubic power-frequency law, S. Kaxiras and M. Martonosi, *Computer
  Architecture Techniques for Power-Efficiency*, 2008, Sec. 2.2). So the core-domain energies
  (MACs, SRAM, vector unit) of an op scale with ``(f / f_boost)**2``;
* static (leakage) power scales with ``V`` (leakage current taken constant): ``f / f_boost``;
* DRAM and row-activation energies are on the HBM's own supply: unchanged;
* time comes from re-simulating the op at clock ``f`` (memory-bound parts do not stretch).

An op's average power is ``energy / seconds``; when it exceeds the limit at the boost clock,
the clock is lowered to the highest ``f`` where it fits (a bracketed search on re-simulated
ops: at most eight re-simulations, the power within 0.5% under the limit), never below
``xpu.freq_hz / 100``. The result records the clock and that
it was power-limited.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.cost.energy import EnergyBreakdown
from mixforge.sim.engine.results import OpResult

__all__ = ["at_clock", "sustained", "scale_energy", "DVFS_LAW"]

#: One-line statement of the DVFS law, for result notes.
DVFS_LAW = ("core energy ~ V^2 with V ~ f (P_dyn ~ f^3 when compute-bound), static ~ V, "
            "DRAM unchanged; time re-simulated at f")

_STEPS = 8
_TOL = 0.005


def at_clock(arch: ArchConfig, freq_hz: float) -> ArchConfig:
    """``arch`` with its xPU at ``freq_hz`` and no power limit (used for re-simulation)."""
    xpu = dataclasses.replace(arch.xpu, freq_hz=freq_hz, power_limit_w=0.0)
    return dataclasses.replace(arch, xpu=xpu)


def scale_energy(e: EnergyBreakdown, ratio: float) -> EnergyBreakdown:
    """Energy of an op run at ``ratio = f / f_boost`` (module doc), from its energy at ``f``
    computed with boost-clock voltage."""
    v2 = ratio * ratio
    return dataclasses.replace(e, mac_j=e.mac_j * v2, sram_j=e.sram_j * v2,
                               vector_j=e.vector_j * v2, static_j=e.static_j * ratio)


def _power(res: OpResult) -> float:
    return res.energy_j / res.seconds if res.seconds > 0 else 0.0


def sustained(arch: ArchConfig, res: OpResult,
              simulate: Callable[[ArchConfig], OpResult]) -> OpResult:
    """``res`` (simulated at the boost clock) or, when its average power exceeds
    ``arch.xpu.power_limit_w``, the op re-simulated (``simulate(arch_at_f)``) at the sustained
    clock, with voltage-scaled energy, ``clock_hz`` and ``power_limited`` set."""
    limit = arch.xpu.power_limit_w
    f_b = arch.xpu.freq_hz
    res = dataclasses.replace(res, clock_hz=f_b)
    if limit <= 0 or res.unit != "xpu" or _power(res) <= limit * (1 + 1e-9):
        return res
    f_min = f_b / 100

    def run(f: float) -> OpResult:
        raw = simulate(at_clock(arch, f))
        return dataclasses.replace(raw, energy=scale_energy(raw.energy, f / f_b), clock_hz=f,
                                   power_limited=True)

    # bracketed search on re-simulated power: hi = lowest clock known to exceed the limit,
    # best = highest clock known to fit. Proposals: the cubic law around the boost point first
    # (core power ~ f^3 as time ~ 1/f and energy ~ V^2 ~ f^2; static and DRAM power ~ f), then
    # secants of log P over log f (memory-bound parts do not stretch, so P falls slower).
    e, t = res.energy, res.seconds
    core = (e.mac_j + e.sram_j + e.vector_j) / t
    lin = (e.static_j + e.dram_j + e.activation_j) / t
    lo, hi = f_min, f_b
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        x = mid / f_b
        lo, hi = (mid, hi) if core * x ** 3 + lin * x <= limit else (lo, mid)
    prop = lo
    hi = f_b
    pts = [(f_b, _power(res))]
    best: OpResult | None = None
    for _ in range(_STEPS):
        floor = best.clock_hz if best is not None else f_min
        if not floor < prop < hi:
            # no usable secant: bisect above a fitting clock, else step down by the linear law
            # (P ~ f at least while any core power remains: a first guess that tends to fit)
            p_hi = next(pw for f, pw in reversed(pts) if f == hi)
            prop = math.sqrt(floor * hi) if best is not None \
                else max(f_min, hi * min(limit / p_hi, 1 - _TOL))
        cur = run(prop)
        p = _power(cur)
        pts.append((prop, p))
        if p <= limit * (1 + 1e-9):
            if best is None or prop > best.clock_hz:  # keep the highest clock that fits
                best = cur
            if p >= limit * (1 - _TOL):
                break
        else:
            hi = prop
        if best is not None and hi / best.clock_hz < 1 + _TOL / 3:
            break
        (f1, p1), (f2, p2) = pts[-2], pts[-1]
        slope = math.log(p2 / p1) / math.log(f2 / f1) if f1 != f2 and p1 > 0 and p2 > 0 \
            else 0.0
        prop = f2 * (limit / p2) ** (1 / slope) if slope > 0.05 else 0.0
    if best is None:  # nothing fitted within the steps: the lowest clock considered
        best = run(f_min)
    return best
