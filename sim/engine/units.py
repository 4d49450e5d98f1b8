"""Timing of the ops that are not tiled GEMMs on the xPU: vector ops, and GEMMs on PIM.

Vector ops stream their operands through the xPU's HBM pins while the vector units compute;
PIM GEMMs stream the stationary operand (weights / KV cache) from the banks of one bundle per
pseudo-channel in lockstep (each step: activate, read one row of every bank in the bundle at
tCCD_L per burst, precharge), capped by the TSV bandwidth, while the activations are broadcast
through the pins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixforge.models.formats import get_format
from mixforge.sim.arch.device import ArchConfig
from mixforge.sim.engine.dram import transfer_time
from mixforge.sim.mapping.actions import ActionCounts
from mixforge.sim.mapping.ops import Gemm, Vector

__all__ = ["UnitTiming", "vector_on_xpu", "vector_on_pim", "gemm_on_pim", "stream_ns"]

_RUN = 4096  # bytes per run when streaming a contiguous tensor through the DRAM model


@dataclass(frozen=True)
class UnitTiming:
    """Duration (s), what compute and memory alone would take (s), traffic and actions."""

    seconds: float
    compute_seconds: float
    memory_seconds: float
    dram_bytes: int
    actions: ActionCounts


def stream_ns(arch: ArchConfig, nbytes: int) -> tuple[float, int, int]:
    """Time (ns), bus bytes and activations to stream ``nbytes`` contiguous bytes via the pins."""
    if nbytes <= 0:
        return 0.0, 0, 0
    rows = -(-nbytes // _RUN)
    tt = transfer_time(arch.hbm, rows, _RUN, _RUN, 0, arch.xpu_banks)
    return tt.t_alone_ns, tt.bursts * arch.hbm.burst_bytes, tt.activations


def _latency_s(arch: ArchConfig) -> float:
    t = arch.hbm.timing
    return (t.t_rcd_ns + t.t_cl_ns) * 1e-9


def vector_on_xpu(arch: ArchConfig, op: Vector) -> UnitTiming:
    """Elementwise / norm op on the xPU vector units of all cores, overlapped with streaming."""
    xpu = arch.xpu
    comp = op.ops / (xpu.vector.lanes * xpu.cores * xpu.freq_hz)
    nbytes = math.ceil(op.elems * get_format(op.fmt).bits / 8) * (op.inputs + op.outputs) \
        if op.in_dram else 0
    ns, bus, acts = stream_ns(arch, nbytes)
    mem = ns * 1e-9
    secs = max(comp, mem) + (_latency_s(arch) if nbytes else 0.0)
    act = ActionCounts(vector_ops=op.ops, sram_input_bits=bus * 8, dram_bits=bus * 8,
                       row_activations=acts)
    return UnitTiming(secs, comp, mem, bus, act)


def vector_on_pim(arch: ArchConfig, op: Vector) -> UnitTiming:
    """Vector op (softmax of PIM attention) on the PIM units' vector lanes."""
    pim = arch.pim
    assert pim is not None
    lanes = arch.hbm.n_pcs * pim.units_per_pc * pim.vector_lanes
    comp = op.ops / (lanes * pim.freq_hz)
    nbytes = math.ceil(op.elems * get_format(op.fmt).bits / 8) * (op.inputs + op.outputs) \
        if op.in_dram else 0
    mem = nbytes / pim.bw_bytes_per_s(arch.hbm)
    bits = nbytes * 8
    act = ActionCounts(vector_ops=op.ops, pim_dram_bits=bits if pim.kind == "logic" else 0,
                       bank_pim_dram_bits=bits if pim.kind == "bank" else 0)
    return UnitTiming(max(comp, mem), comp, mem, nbytes, act)


def gemm_on_pim(arch: ArchConfig, op: Gemm) -> UnitTiming:
    """GEMM / GEMV with its B operand resident in DRAM, executed by the PIM units."""
    pim, hbm = arch.pim, arch.hbm
    assert pim is not None
    t = hbm.timing
    lanes = pim.lanes_for(op.w, op.a)
    assert lanes is not None
    bits = {f: get_format(f).bits for f in (op.w, op.a, op.o or op.a, op.scale_fmt)}
    b_bytes = math.ceil(op.k * op.n * bits[op.w] / 8)
    if op.group_size:
        b_bytes += math.ceil(op.groups_k * op.n * bits[op.scale_fmt] / 8)
    b_bytes *= op.batch
    a_bytes = math.ceil(op.m * op.k * bits[op.a] / 8) * op.batch if op.a_in_dram else 0
    o_bytes = math.ceil(op.m * op.n * bits[op.o or op.a] / 8) * op.batch if op.o_to_dram else 0
    # B: each pc streams its share, one bundle-wide row step at a time, capped by the TSVs
    per_pc = -(-b_bytes // hbm.n_pcs)
    banks = pim.banks_in_parallel(hbm)
    step_bytes = banks * hbm.row_bytes
    col_ns = max(t.t_ccd_l_ns, hbm.t_burst_ns)
    step_ns = t.t_rcd_ns + hbm.row_bytes // hbm.burst_bytes * col_ns + t.t_rp_ns
    steps = -(-per_pc // step_bytes)
    bank_ns = steps * step_ns
    tsv_ns = per_pc / pim.pc_bw_bytes_per_s(hbm) * 1e9
    mem = max(bank_ns, tsv_ns) * hbm.refresh_factor * 1e-9
    comp = op.macs / pim.peak_macs_per_s(hbm, op.w, op.a)
    # A is broadcast to every pc (in parallel over the pcs' pins); O comes back the same way
    io = (a_bytes + -(-o_bytes // hbm.n_pcs)) / hbm.pc_bw_bytes_per_s
    secs = max(mem, comp) + io + _latency_s(arch)
    deq = op.m * op.n * op.groups_k * op.batch if op.group_size else 0
    in_mem_bits = b_bytes * 8
    act = ActionCounts(macs=((op.w, op.a, op.macs),), vector_ops=deq,
                       dram_bits=(a_bytes * hbm.n_pcs + o_bytes) * 8,
                       pim_dram_bits=in_mem_bits if pim.kind == "logic" else 0,
                       bank_pim_dram_bits=in_mem_bits if pim.kind == "bank" else 0,
                       row_activations=steps * banks * hbm.n_pcs)
    return UnitTiming(secs, comp, mem, b_bytes + a_bytes + o_bytes, act)
