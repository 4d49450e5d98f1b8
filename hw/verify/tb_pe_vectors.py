"""Vector plans for the fast PE harness (``tb_pe_fast``): payloads, expectations, descriptions.

Not a cocotb module: plain NumPy, also imported by ``test_pe_fast.py`` without a simulator.

Payloads are packed with the PEs' own input layouts (``shift_add_layout``, ``multiformat_layout``,
...), so a layout change cannot silently desynchronise the testbench. Expected outputs come from
the batch forms of the reference models (``mixforge.models.pe.*_batch``: singles and
accumulation sequences alike), which tests/models/test_pe_vectorised.py checks bit for bit
against the scalar ``models.pe`` functions. Every run cross-checks them once more against the
scalar functions themselves (:func:`cross_check`):

* tables fixed by the PE parameters alone (exhaustive operand pairs, edge tables): every row,
  once; the verified table is then kept in ``<cache>/expected/`` under a key of the models'
  source, the spec and the packed payloads, and later runs compare against it;
* random singles: every edge row and a seeded sample;
* sequences: every short one (``n <= 32``) and two seeded long ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.random import default_rng  # (imported here, not lazily inside the timed suites)

from mixforge.hw.verify.worst_case import baseline_worst, multiformat_worst, shift_add_worst
from mixforge.models import pe as ref
from mixforge.toolchain import cache_dir

__all__ = ["Suite", "plans", "iter_plans", "cross_check", "mixed_mode_sequence",
           "FP16_EDGES", "P16_EDGES"]

FP16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00,
              0x3BFF, 0x3C01, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00, 0x5640,
              0x0200, 0x3555, 0xC000, 0x4000, 0x7800, 0x1400, 0x6000]
P16_EDGES = [0x0000, 0x8000, 0x0001, 0xFFFF, 0x7FFF, 0x8001, 0x4000, 0xC000, 0x3FFF, 0x4001,
             0x0002, 0x7FFE, 0x2000, 0x6000, 0x1234, 0x5555, 0xAAAA, 0x7000, 0x0100, 0x00FF]
#: Scales of the edge table: 1.0, -1.0, max normal, min subnormal, 0, inf, NaN, 2**-14.
SCALE_EDGES = [0x3C00, 0xBC00, 0x7BFF, 0x0001, 0x0000, 0x7C00, 0x7E00, 0x0400]

#: valid/ready thresholds out of 256 (harness LFSR): full rate, light and heavy back-pressure.
FULL, LIGHT, HEAVY = (256, 256), (224, 208), (179, 154)

I64 = np.int64

#: An operand-column dict -> expected patterns (``last`` flags as the second argument).
BatchModel = Callable[[dict[str, np.ndarray], np.ndarray | None], np.ndarray]
#: The scalar models.pe function on the items ``[lo, hi)`` of the columns.
ScalarModel = Callable[[dict[str, np.ndarray], int, int], int]


@dataclass
class Suite:
    """One batch of checks: packed input items, ``last`` flags, one expected output per last.

    ``cols`` keeps the operand columns (for the scalar cross-check and messages) and
    ``bounds[j]:bounds[j+1]`` the items of output ``j``; ``describe(j)`` names the operands of
    output ``j`` in hex; ``build_s`` is the (wall, CPU) time spent computing the expectations
    and packing (the model's share of the run). ``fixed``: the operands depend on the PE
    parameters only (exhaustive and edge tables), so the verified table can be cached.
    """

    name: str
    items: np.ndarray
    last: np.ndarray
    expected: np.ndarray
    describe: Callable[[int], str]
    products: int
    rate: tuple[int, int] = LIGHT
    timing: bool = False
    build_s: tuple[float, float] = (0.0, 0.0)
    scalar: Callable[[int], int] | None = None
    edges: int = 0
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    fixed: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    xcheck: str = ""


# ----------------------------------------------------------------------------- packing helpers


def layout_of(p: dict[str, Any]) -> Any:
    """The Amaranth input layout of the PE kind in ``p`` (the hardware's own definition)."""
    from mixforge.hw.pe import specs

    kind = p["kind"]
    if kind == "shift_add":
        from mixforge.hw.pe.shift_add import shift_add_layout

        return shift_add_layout(specs.ShiftAddSpec(k=p["k"], act=p["act"], group=p["group"],
                                                   out=p["out"], ternary=p["ternary"]))
    if kind == "mul_dequant_first":
        from mixforge.hw.pe.baselines import dequant_first_layout

        return dequant_first_layout(specs.DequantFirstSpec(k=p["k"], out=p["out"]))
    if kind == "fp16_mac":
        from mixforge.hw.pe.baselines import fp16_mac_layout

        return fp16_mac_layout(specs.FP16MacSpec(k=p["k"], out=p["out"]))
    from mixforge.hw.pe.multiformat import multiformat_layout

    return multiformat_layout()


def pack(layout: Any, **cols: Any) -> np.ndarray:
    """Pack named columns into uint64 payloads at the layout's field offsets."""
    n = max(np.size(v) for v in cols.values())
    word = np.zeros(n, np.uint64)
    names = set()
    for name, fld in layout:
        names.add(name)
        v = np.broadcast_to(np.asarray(cols[name]).astype(np.int64), (n,)).astype(np.uint64)
        word |= (v & np.uint64((1 << fld.width) - 1)) << np.uint64(fld.offset)
    assert names == set(cols), f"payload fields {sorted(names)} != {sorted(cols)}"
    assert layout.size <= 64, "payloads wider than 64 bits need another packer"
    return word


def _hexcols(cols: dict[str, np.ndarray], names: tuple[str, ...]) -> Callable[[int], str]:
    return lambda j: " ".join(f"{n}={int(cols[n][j]):#x}" for n in names)


def _exhaustive_rows(p: dict[str, Any], rng: np.random.Generator, n: int
                     ) -> tuple[np.ndarray, str]:
    """All ``n`` rows of an exhaustive table, or (``exhaustive: false``, for slow simulators)
    a seeded sample of ``sample`` (default 4096) of them."""
    k = int(p.get("sample", 4096))
    if p.get("exhaustive", True) or n <= k:
        return np.arange(n), "exhaustive"
    return np.sort(rng.choice(n, k, replace=False)), "sampled"


@dataclass(frozen=True)
class _Model:
    """How one PE kind turns operand columns into payloads and expectations."""

    names: tuple[str, ...]
    packer: Callable[[dict[str, np.ndarray], Any], np.ndarray]
    batch: BatchModel
    scalar: ScalarModel


def _suite(m: _Model, name: str, cols: dict[str, Any], last: np.ndarray | None,
           rate: tuple[int, int], *, timing: bool = False, edges: int = 0, fixed: bool = False,
           describe: Callable[[int], str] | None = None, hexnames: tuple[str, ...] = (),
           t_start: tuple[float, float] | None = None) -> Suite:
    """Build a suite: columns broadcast to one length, packed payloads, batch expectations."""
    t0, c0 = t_start or (time.perf_counter(), time.process_time())
    n = max(np.size(cols[x]) for x in m.names)
    c = {x: np.ascontiguousarray(np.broadcast_to(np.asarray(cols[x], I64), (n,)))
         for x in m.names}
    exp = m.batch(c, last)
    lastf = np.ones(n, bool) if last is None else np.asarray(last, bool)
    items = m.packer(c, lastf)
    bounds = np.r_[0, np.flatnonzero(lastf) + 1]
    dt = (time.perf_counter() - t0, time.process_time() - c0)
    return Suite(name, items, lastf, exp, describe or _hexcols(c, hexnames or m.names), n, rate,
                 timing, dt, lambda j: m.scalar(c, int(bounds[j]), int(bounds[j + 1])), edges,
                 c, fixed)


def _worst_suite(m: _Model, p: dict[str, Any],
                 columns: Callable[[dict[str, Any]], tuple[dict[str, np.ndarray], np.ndarray,
                                                           list[str]]]) -> Suite:
    """The worst-case-magnitude sequences (:mod:`mixforge.hw.verify.worst_case`), under
    back-pressure; a fixed table (cross-checked in full once, then cached)."""
    t0 = time.perf_counter(), time.process_time()
    cols, last, desc = columns(p)
    return _suite(m, "worst_case_magnitude", cols, last, HEAVY, fixed=True,
                  describe=desc.__getitem__, t_start=t0)


# ----------------------------------------------------------------------------- ShiftAddPE


def _shift_add_model(p: dict[str, Any]) -> _Model:
    lay = layout_of(p)
    kw = {"k": p["k"], "act": p["act"], "group": p["group"], "out": p["out"],
          "ternary": p["ternary"]}
    return _Model(
        ("w", "a", "s", "z"),
        lambda c, last: pack(lay, w=c["w"], a=c["a"], scale=c["s"], zero=c["z"], last=last),
        lambda c, last: ref.shift_add_pe_batch(c["w"], c["a"], c["s"], c["z"], last, **kw),
        lambda c, lo, hi: ref.shift_add_pe(c["w"][lo:hi], c["a"][lo:hi], c["s"][lo:hi],
                                           c["z"][lo:hi], **kw))


def _shift_add_plans(p: dict[str, Any], rng: np.random.Generator) -> Iterator[Suite]:
    k, m = p["k"], _shift_add_model(p)
    n = int(p.get("vectors", 100_000))
    if p["act"] == "int8":
        t0 = time.perf_counter(), time.process_time()
        rows, tag = _exhaustive_rows(p, rng, 256 << k)
        w, a = rows >> 8, rows & 0xFF
        yield _suite(m, f"products_WxA_{tag}", {"w": w, "a": a, "s": 0x3C00, "z": 0}, None,
                     FULL, timing=True, edges=len(w), fixed=tag == "exhaustive",
                     hexnames=("w", "a"), t_start=t0)
        t0 = time.perf_counter(), time.process_time()
        r = max(n, 1000)  # the scale is a 16-bit operand: as many as the other random paths
        yield _suite(m, "scaled_random", {"w": rng.integers(0, 1 << k, r),
                                          "a": rng.integers(0, 256, r),
                                          "s": _scales(rng, r), "z": _zeros(rng, r)},
                     _random_last(p, rng, r), LIGHT, t_start=t0)
    else:
        t0 = time.perf_counter(), time.process_time()
        w, a, s = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, SCALE_EDGES,
                                                   indexing="ij"))
        z = np.where(np.arange(len(w)) % 3 == 0, 0x81, 0)
        yield _suite(m, "fp16_edges", {"w": w, "a": a, "s": s, "z": z}, None, FULL,
                     timing=True, edges=len(w), fixed=True, t_start=t0)
        t0 = time.perf_counter(), time.process_time()
        yield _suite(m, "fp16_random", {"w": rng.integers(0, 1 << k, n),
                                        "a": rng.integers(0, 1 << 16, n),
                                        "s": _scales(rng, n), "z": _zeros(rng, n)},
                     _random_last(p, rng, n), LIGHT, t_start=t0)
    yield _shift_add_sequences(p, rng, m)
    yield _worst_suite(m, p, shift_add_worst)


def _random_last(p: dict[str, Any], rng: np.random.Generator, n: int) -> np.ndarray | None:
    """``last`` flags of the random paths: one product per output (``None``), except with the
    amortised ``dequant: serial`` unit, where a one-product output costs the unit's S cycles in
    the hardware itself: there each output sums S..2S random products (random scale and zero
    point per output), so the unit keeps up at full rate. One-product outputs of the serial
    unit are still checked by the exhaustive / edge tables and the sequences (lengths 1, 2)."""
    if p.get("dequant", "parallel") != "serial":
        return None
    from mixforge.hw.pe.specs import ShiftAddSpec

    s = ShiftAddSpec(k=p["k"], act=p["act"], group=p["group"], out=p["out"],
                     ternary=p["ternary"], dequant="serial").group_cycles
    ends = np.cumsum(rng.integers(s, 2 * s + 1, n // s + 1)) - 1
    last = np.zeros(n, bool)
    last[ends[ends < n]] = True
    last[-1] = True
    return last


def _scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """FP16 scales: mostly 1.0-ish magnitudes, some tiny/huge, a few non-finite."""
    s = rng.integers(0, 1 << 16, n)
    near = rng.integers(0x3000, 0x4800, n) | (rng.integers(0, 2, n) << 15)
    s = np.where(rng.random(n) < 0.6, near, s)
    finite = np.where((s >> 10) & 0x1F == 0x1F, s & 0xBFFF, s)
    return np.where(rng.random(n) < 0.99, finite, s)


def _zeros(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.5, rng.integers(0, 256, n), 0)


def _shift_add_sequences(p: dict[str, Any], rng: np.random.Generator, m: _Model) -> Suite:
    """Random sequences (1..1024): cancellations, zero points, output saturation."""
    k, g = p["k"], p["group"]
    ws, as_, ss, zs, lasts, desc = [], [], [], [], [], []
    t0 = time.perf_counter(), time.process_time()
    for q in range(int(p.get("sequences", 40))):
        n = int(rng.choice([1, 2, g - 1, g, g + 1, 2 * g, int(rng.integers(1, 1025))]))
        n = max(1, min(n, 1024))
        w = rng.integers(0, 1 << k, n)
        if p["act"] == "int8":
            a = rng.integers(0, 256, n)
        else:  # mostly finite, magnitudes spread over the whole exponent range
            a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
        if q % 5 == 1:  # cancellation: the second half repeats the first with negated weights
            h = n // 2
            w[h:2 * h] = (-ref.decode_weight(w[:h], k=k, ternary=p["ternary"])) % (1 << k)
            a[h:2 * h] = a[:h]
        big = q % 7 == 3  # large scales: the output format saturates / overflows
        s = rng.integers(0x7000 if big else 0x0000, 0x7C00, n) | (rng.integers(0, 2, n) << 15)
        z = rng.integers(0, 256, n) if q % 2 else np.zeros(n, I64)
        ws.append(w), as_.append(a), ss.append(s), zs.append(z)
        lasts.append(np.arange(n) == n - 1)
        desc.append(f"sequence {q} (n={n}, w0={int(w[0]):#x} a0={int(a[0]):#x} "
                    f"s0={int(s[0]):#x} z0={int(z[0]):#x})")
    cat = {"w": np.concatenate(ws), "a": np.concatenate(as_), "s": np.concatenate(ss),
           "z": np.concatenate(zs)}
    return _suite(m, "sequences_backpressure", cat, np.concatenate(lasts), HEAVY,
                  describe=desc.__getitem__, t_start=t0)


# ----------------------------------------------------------------------------- baselines


def _baseline_random(p: dict[str, Any], rng: np.random.Generator, n: int) -> dict[str, Any]:
    w = rng.integers(0, 1 << p["k"], n)
    if p["kind"] == "mul_dequant_first":
        return {"w": w, "a": rng.integers(0, 256, n), "sm": rng.integers(0, 256, n),
                "z": rng.integers(0, 256, n),
                "ts": rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)}
    a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
    s = rng.integers(0, 0x6000, n) | (rng.integers(0, 2, n) << 15)
    return {"w": w, "a": a, "s": s, "z": rng.integers(0, 256, n)}


def _baseline_model(p: dict[str, Any]) -> _Model:
    lay, k, o = layout_of(p), p["k"], p["out"]
    if p["kind"] == "mul_dequant_first":
        return _Model(
            ("w", "a", "sm", "z", "ts"),
            lambda c, last: pack(lay, w=c["w"], a=c["a"], sm=c["sm"], zero=c["z"],
                                 tscale=c["ts"], last=last),
            lambda c, last: ref.dequant_first_pe_batch(c["w"], c["a"], c["sm"], c["z"],
                                                       c["ts"], last, k=k, out=o),
            lambda c, lo, hi: ref.dequant_first_pe(c["w"][lo:hi], c["a"][lo:hi],
                                                   c["sm"][lo:hi], c["z"][lo:hi],
                                                   c["ts"][lo:hi], k=k, out=o))
    return _Model(
        ("w", "a", "s", "z"),
        lambda c, last: pack(lay, w=c["w"], a=c["a"], scale=c["s"], zero=c["z"], last=last),
        lambda c, last: ref.fp16_mac_pe_batch(c["w"], c["a"], c["s"], c["z"], last, k=k,
                                              out=o),
        lambda c, lo, hi: ref.fp16_mac_pe(c["w"][lo:hi], c["a"][lo:hi], c["s"][lo:hi],
                                          c["z"][lo:hi], k=k, out=o))


def _baseline_plans(p: dict[str, Any], rng: np.random.Generator) -> Iterator[Suite]:
    k, m, dq = p["k"], _baseline_model(p), p["kind"] == "mul_dequant_first"
    n = int(p.get("vectors", 100_000))
    t0 = time.perf_counter(), time.process_time()
    if dq:
        rows, tag = _exhaustive_rows(p, rng, 256 << k)
        w, a = rows >> 8, rows & 0xFF
        yield _suite(m, f"products_WxA_{tag}",
                     {"w": w, "a": a, "sm": 1, "z": 0, "ts": 0x3C00}, None, FULL,
                     timing=True, edges=len(w), fixed=tag == "exhaustive", t_start=t0)
    else:
        w, a, s = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, SCALE_EDGES,
                                                   indexing="ij"))
        yield _suite(m, "fp16_edges", {"w": w, "a": a, "s": s,
                                       "z": np.where(np.arange(len(w)) % 3 == 0, 0x81, 0)},
                     None, FULL, timing=True, edges=len(w), fixed=True, t_start=t0)
    t0 = time.perf_counter(), time.process_time()
    yield _suite(m, "products_random", _baseline_random(p, rng, n), None, LIGHT,
                 t_start=t0)
    lasts, desc, cols = [], [], []
    t0 = time.perf_counter(), time.process_time()
    for q in range(int(p.get("sequences", 40))):
        r = int(rng.choice([1, 2, 128, int(rng.integers(1, 1025))]))
        c = _baseline_random(p, rng, r)
        cols.append(c)
        lasts.append(np.arange(r) == r - 1)
        desc.append(f"sequence {q} (n={r}, w0={int(c['w'][0]):#x} a0={int(c['a'][0]):#x})")
    cat = {x: np.concatenate([c[x] for c in cols]) for x in m.names}
    yield _suite(m, "sequences_backpressure", cat, np.concatenate(lasts), HEAVY,
                 describe=desc.__getitem__, t_start=t0)
    yield _worst_suite(m, p, baseline_worst)


# ----------------------------------------------------------------------------- MultiFormatMAC


def lane_words(i: np.ndarray, lanes: int, lw: int) -> tuple[np.ndarray, np.ndarray]:
    """Vector ``i`` puts operand pair ``(i + 37 j) mod 2**(2 lw)`` (``37 * 334 j`` for 8-bit
    lanes) in lane ``j``: over ``2**(2 lw)`` vectors every pair visits every lane."""
    n_pairs = 1 << (2 * lw)
    a = np.zeros(len(i), I64)
    b = np.zeros(len(i), I64)
    for j in range(lanes):
        pr = (i + 37 * j * (1 + 333 * (lw == 8))) % n_pairs
        a |= (pr & ((1 << lw) - 1)) << (j * lw)
        b |= ((pr >> lw) & ((1 << lw) - 1)) << (j * lw)
    return a, b


def _mac_model(p: dict[str, Any]) -> _Model:
    """The reference of a multi-format kind (separate MACs read out the last element's mode
    only; the shared-quire designs sum every mode)."""
    lay, o = layout_of(p), p["out"]
    sep = p["kind"] == "separate_macs"
    batch = ref.separate_macs_mac_batch if sep else ref.multiformat_mac_batch
    scalar = ref.separate_macs_mac if sep else ref.multiformat_mac
    return _Model(
        ("a", "b", "m"),
        lambda c, last: pack(lay, a=c["a"], b=c["b"], mode=c["m"], last=last),
        lambda c, last: batch(c["m"], c["a"], c["b"], last, out=o),
        lambda c, lo, hi: scalar([ref.MODES[x] for x in c["m"][lo:hi].tolist()],
                                 c["a"][lo:hi].tolist(), c["b"][lo:hi].tolist(), out=o))


def _multiformat_plans(p: dict[str, Any], rng: np.random.Generator) -> Iterator[Suite]:
    m = _mac_model(p)
    for mode in (0, 1, 2):  # every operand pair of FP4, posit(4,1), posit(8,0) in every lane
        t0 = time.perf_counter(), time.process_time()
        mname = ref.MODES[mode]
        _, lanes, lw = ref.mac_lane_formats(mname)
        rows, tag = _exhaustive_rows(p, rng, 1 << (2 * lw))
        a, b = lane_words(rows, lanes, lw)
        yield _suite(m, f"{tag}_{mname}", {"a": a, "b": b, "m": mode}, None,
                     FULL if mode == 0 else LIGHT, timing=mode == 0, edges=len(a),
                     fixed=tag == "exhaustive", t_start=t0,
                     describe=lambda j, a=a, b=b, mname=mname:
                     f"mode={mname} a={int(a[j]):#x} b={int(b[j]):#x}")
    t0 = time.perf_counter(), time.process_time()
    ea, eb = (x.ravel().astype(I64) for x in np.meshgrid(P16_EDGES, P16_EDGES, indexing="ij"))
    n = int(p.get("vectors", 100_000))
    a = np.concatenate([ea, rng.integers(0, 1 << 16, n)])
    b = np.concatenate([eb, rng.integers(0, 1 << 16, n)])
    yield _suite(m, "posit16_edges_random", {"a": a, "b": b, "m": 3}, None, LIGHT,
                 edges=len(ea), t_start=t0,
                 describe=lambda j: f"mode=p16x1 a={int(a[j]):#x} b={int(b[j]):#x}")
    yield _multiformat_sequences(p, rng, m)
    yield _worst_suite(m, p, multiformat_worst)


def mixed_mode_sequence(q: int, rng: np.random.Generator, *, separate: bool,
                        single_mode: Callable[[int], int]
                        ) -> tuple[list[int], list[int], list[int], str]:
    """Sequence ``q`` (length 1..1024) of the multi-format accumulation checks: operand words
    ``a``, ``b``, mode indices and a description. Every third sequence (separate MACs: all but
    every sixth) keeps one mode, ``single_mode(q)`` (called after the length is drawn); the
    others switch mode per element. Every fourth repeats its first half with negated ``b``
    (cancellation); every fifth has no NaR (and no posit(8,0) mode), so the sum itself is
    checked. Shared by ``tb_pe_vectors`` and ``tb_pe_multiformat``."""
    n = int(rng.choice([1, 2, 3, 16, int(rng.integers(1, 1025))]))
    if q % 3 == 0 or (separate and q % 6 != 5):  # one mode, switching between accumulations
        modes = [int(single_mode(q))] * n
    else:
        modes = [int(x) for x in rng.integers(0, 4, n)]
    a = [int(x) for x in rng.integers(0, 1 << 16, n)]
    b = [int(x) for x in rng.integers(0, 1 << 16, n)]
    if q % 4 == 1:  # cancellation: repeat with negated b (posit negation = two's complement)
        h = n // 2
        for j in range(h):
            a[h + j], modes[h + j] = a[j], modes[j]
            lw = 16 // ref.mac_lane_formats(ref.MODES[modes[j]])[1]
            b[h + j] = sum((((-(b[j] >> (k * lw))) & ((1 << lw) - 1)) << (k * lw))
                           for k in range(16 // lw)) if modes[j] else b[j] ^ 0x8888
    if q % 5 == 2:  # no NaR, so the sum itself is checked
        a = [x if x != 0x8000 else 0 for x in a]
        b = [x if x != 0x8000 else 0 for x in b]
        modes = [mo if mo != 2 else 3 for mo in modes]
    return a, b, modes, (f"sequence {q} (n={n}, mode0={ref.MODES[modes[0]]} a0={a[0]:#x} "
                         f"b0={b[0]:#x})")


def _multiformat_sequences(p: dict[str, Any], rng: np.random.Generator, m: _Model) -> Suite:
    """Sequences (1..1024) whose mode switches between and within accumulations (separate
    MACs: within only every sixth sequence, checking that the last element's MAC is read)."""
    sep = p["kind"] == "separate_macs"
    As, Bs, Ms, lasts, desc = [], [], [], [], []
    t0 = time.perf_counter(), time.process_time()
    for q in range(int(p.get("sequences", 40))):
        a, b, modes, d = mixed_mode_sequence(q, rng, separate=sep,
                                             single_mode=lambda q: (q // 3 if not sep else q) % 4)
        As.append(a), Bs.append(b), Ms.append(modes)
        lasts.append(np.arange(len(a)) == len(a) - 1)
        desc.append(d)
    cat = {"a": np.concatenate(As), "b": np.concatenate(Bs), "m": np.concatenate(Ms)}
    return _suite(m, "mixed_mode_sequences_backpressure", cat, np.concatenate(lasts), HEAVY,
                  describe=desc.__getitem__, t_start=t0)


# ----------------------------------------------------------------------------- entry points


def iter_plans(p: dict[str, Any]) -> Iterator[Suite]:
    """Every suite for the PE described by the testbench parameters ``p``, built one at a
    time (the testbench times each suite from the start of its construction)."""
    rng = default_rng(int(p.get("seed", 6)))
    kind = p["kind"]
    if kind == "shift_add":
        suites = _shift_add_plans(p, rng)
    elif kind in ("mul_dequant_first", "fp16_mac"):
        suites = _baseline_plans(p, rng)
    elif kind in ("multiformat", "shared_quire", "separate_macs"):
        suites = _multiformat_plans(p, rng)
    else:
        raise ValueError(f"no fast-harness plan for PE kind {kind!r}")
    for s in suites:
        s.params = p
        yield s


def plans(p: dict[str, Any]) -> list[Suite]:
    """:func:`iter_plans` as a list."""
    return list(iter_plans(p))


@lru_cache(maxsize=1)
def _models_digest() -> bytes:
    """Digest of the reference models' sources (a cached table is only valid for them)."""
    from mixforge import models

    h = hashlib.sha256()
    for f in sorted(Path(models.__file__).parent.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.digest()


def _table_key(p: dict[str, Any], s: Suite) -> str:
    """Cache key of a fixed table: model sources, spec (every field that is not a run
    setting), suite name, payloads."""
    run = {"seed", "vectors", "sequences", "depth", "corrupt_expected", "sample", "exhaustive",
           "latency"}
    h = hashlib.sha256(_models_digest())
    h.update(json.dumps({x: v for x, v in sorted(p.items()) if x not in run},
                        sort_keys=True, default=str).encode())
    h.update(s.name.encode() + np.ascontiguousarray(s.items, np.uint64).tobytes())
    return h.hexdigest()[:24]


def _table_dir() -> Path:
    return cache_dir() / "expected"


def cross_check(suite: Suite, rng: np.random.Generator, sample: int = 600,
                edge_cap: int = 600, long_sequences: int = 2, full_tables: bool = True) -> int:
    """Compare the batch expectations of ``suite`` with the scalar ``models.pe`` function;
    raises AssertionError on any difference. Returns the number of outputs compared now and
    sets ``suite.xcheck`` to what was done:

    * fixed tables (``suite.fixed``): ``"cached"`` when a table verified earlier under the same
      key exists (and equals the batch result), else every row is compared and the verified
      table is stored (``"all"``; no store when ``MIXFORGE_NO_TABLE_CACHE`` is set);
    * singles: the first ``edge_cap`` edge rows and ``sample`` seeded random rows (``"sample"``);
    * sequences: every sequence of at most 32 items and ``long_sequences`` seeded longer ones.

    ``full_tables=False`` treats fixed tables like singles (no cache; for quick unit tests).
    """
    n = len(suite.expected)
    if suite.scalar is None or n == 0:
        return 0
    fixed = suite.fixed and full_tables
    path = _table_dir() / f"{_table_key(suite.params, suite)}.npy" if fixed else None
    if path is not None and path.exists():
        try:
            table = np.load(path)
        except (OSError, ValueError):
            table = None
        if table is not None and table.shape == suite.expected.shape:
            assert (table == suite.expected).all(), (
                f"{suite.name}: batch model differs from the verified table {path}")
            suite.xcheck = "cached"
            return 0
    if fixed:
        idx = np.arange(n)
        suite.xcheck = "all"
    elif len(suite.last) == n:  # singles
        pick = np.zeros(n, bool)  # (no np.union1d: its lazy numpy.ma import costs 0.5 s)
        pick[:min(suite.edges, edge_cap)] = True
        pick[rng.choice(n, size=min(sample, n), replace=False)] = True
        idx = np.flatnonzero(pick)
        suite.xcheck = "sample"
    else:
        lens = np.diff(np.r_[0, np.flatnonzero(suite.last) + 1])
        longer = np.flatnonzero(lens > 32)
        pick = lens <= 32
        pick[rng.choice(longer, size=min(long_sequences, len(longer)), replace=False)] = True
        idx = np.flatnonzero(pick)
        suite.xcheck = "sample"
    for j in idx.tolist():
        want = suite.scalar(j)
        got = int(suite.expected[j])
        assert got == want, (f"{suite.name}: batch model {got:#x} != models.pe {want:#x} "
                             f"for {suite.describe(j)}")
    if path is not None and not os.environ.get("MIXFORGE_NO_TABLE_CACHE"):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, suite.expected)
        os.replace(tmp, path)
    return len(idx)
