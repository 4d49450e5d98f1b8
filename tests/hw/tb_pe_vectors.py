"""Vector plans for the fast PE harness (``tb_pe_fast``): payloads, expectations, descriptions.

Not a cocotb module: plain NumPy, also imported by ``test_pe_fast.py`` without a simulator.

Payloads are packed with the PEs' own input layouts (``shift_add_layout``, ``multiformat_layout``,
...), so a layout change cannot silently desynchronise the testbench. Expected outputs:

* one-element sequences ("singles"): vectorised through ``mixforge.models.exact``
  (``decode_exact`` / ``round_scaled``), following the documented semantics of the
  ``mixforge.models.pe`` functions; every plan cross-checks a seeded sample (and all edge cases)
  against the scalar ``models.pe`` functions themselves (:func:`cross_check`), so the fast
  adapter can never drift from the reference;
* accumulation sequences: the scalar ``models.pe`` functions, one call per sequence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixforge.models import pe as ref
from mixforge.models.exact import decode_exact, round_scaled

__all__ = ["Suite", "plans", "cross_check", "FP16_EDGES", "P16_EDGES"]

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


@dataclass
class Suite:
    """One batch of checks: packed input items, ``last`` flags, one expected output per last.

    ``cols`` keeps the operand columns of singles (for the scalar cross-check and messages);
    ``describe(j)`` names the operands of output ``j`` in hex; ``build_s`` is the (wall, CPU)
    time spent computing the expectations and packing (the model's share of the run).
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


def _s8(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x).astype(I64) & 0xFF
    return np.where(x >= 128, x - 256, x)


def _round(out: str, sig: np.ndarray, exp: np.ndarray, nan: np.ndarray) -> np.ndarray:
    """``round_fixed`` of models/pe, vectorised: one rounding; NaN flag -> canonical NaN."""
    code = round_scaled(out, np.asarray(sig, I64), np.asarray(exp, I64)).astype(np.uint64)
    return np.where(nan, np.uint64(ref.nan_bits(out)), code)


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


# ----------------------------------------------------------------------------- ShiftAddPE


def shift_add_singles(p: dict[str, Any], w: np.ndarray, a: np.ndarray, s: np.ndarray,
                      z: np.ndarray) -> np.ndarray:
    """Vectorised ``shift_add_pe([w], [a], [s], [z])``: ``round(s * (w - z) * a)``."""
    wv = ref.decode_weight(w, k=p["k"], ternary=p["ternary"])
    if p["act"] == "int8":
        av, bad, lsb = _s8(a), np.zeros(len(a), bool), 0
    else:
        sig, exp, sp = decode_exact("float16", np.asarray(a, np.uint64))
        av, bad, lsb = sig << (exp - ref.FP16_LSB), sp != 0, ref.FP16_LSB
    s_sig, s_exp, s_sp = decode_exact("float16", np.asarray(s, np.uint64))
    d = (wv - _s8(z)) * av  # |d| < 2**49 and |s_sig| < 2**11: exact in int64
    return _round(p["out"], s_sig * d, s_exp + lsb, bad | (s_sp != 0))


def _shift_add_plans(p: dict[str, Any], rng: np.random.Generator) -> list[Suite]:
    k, lay = p["k"], layout_of(p)
    n = int(p.get("vectors", 100_000))
    out: list[Suite] = []

    def singles(name: str, w: Any, a: Any, s: Any, z: Any, rate: tuple[int, int],
                timing: bool = False, edges: int = 0) -> Suite:
        t0, c0 = time.perf_counter(), time.process_time()
        n_ = max(np.size(v) for v in (w, a, s, z))
        cols = {x: np.broadcast_to(np.asarray(v, I64), (n_,))
                for x, v in (("w", w), ("a", a), ("s", s), ("z", z))}
        exp = shift_add_singles(p, cols["w"], cols["a"], cols["s"], cols["z"])
        items = pack(lay, w=cols["w"], a=cols["a"], scale=cols["s"], zero=cols["z"], last=1)
        dt = (time.perf_counter() - t0, time.process_time() - c0)
        return Suite(name, items, np.ones(len(items), bool), exp,
                     _hexcols(cols, ("w", "a") if name.startswith("products_WxA") else
                              ("w", "a", "s", "z")), len(items), rate, timing, dt,
                     lambda j: ref.shift_add_pe(
                         [cols["w"][j]], [cols["a"][j]], [cols["s"][j]], [cols["z"][j]], k=k,
                         act=p["act"], group=p["group"], out=p["out"], ternary=p["ternary"]),
                     edges, cols)

    if p["act"] == "int8":
        rows, tag = _exhaustive_rows(p, rng, 256 << k)
        w, a = rows >> 8, rows & 0xFF
        out.append(singles(f"products_WxA_{tag}", w, a, 0x3C00, 0, FULL, timing=True,
                           edges=len(w)))
        m = max(n // 10, 1000)
        out.append(singles("scaled_random", rng.integers(0, 1 << k, m),
                           rng.integers(0, 256, m), _scales(rng, m), _zeros(rng, m), LIGHT))
    else:
        w, a, s = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, SCALE_EDGES,
                                                   indexing="ij"))
        z = np.where(np.arange(len(w)) % 3 == 0, 0x81, 0)
        out.append(singles("fp16_edges", w, a, s, z, FULL, timing=True, edges=len(w)))
        out.append(singles("fp16_random", rng.integers(0, 1 << k, n), rng.integers(0, 1 << 16, n),
                           _scales(rng, n), _zeros(rng, n), LIGHT))
    out.append(_shift_add_sequences(p, rng, lay))
    return out


def _scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """FP16 scales: mostly 1.0-ish magnitudes, some tiny/huge, a few non-finite."""
    s = rng.integers(0, 1 << 16, n)
    near = rng.integers(0x3000, 0x4800, n) | (rng.integers(0, 2, n) << 15)
    s = np.where(rng.random(n) < 0.6, near, s)
    finite = np.where((s >> 10) & 0x1F == 0x1F, s & 0xBFFF, s)
    return np.where(rng.random(n) < 0.99, finite, s)


def _zeros(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.where(rng.random(n) < 0.5, rng.integers(0, 256, n), 0)


def _shift_add_sequences(p: dict[str, Any], rng: np.random.Generator, lay: Any) -> Suite:
    """Random sequences (1..1024): cancellations, zero points, output saturation."""
    k, g = p["k"], p["group"]
    ws, as_, ss, zs, lasts, exp, desc = [], [], [], [], [], [], []
    t_start, c_start = time.perf_counter(), time.process_time()
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
        exp.append(ref.shift_add_pe(w, a, s, z, k=k, act=p["act"], group=g, out=p["out"],
                                    ternary=p["ternary"]))
        ws.append(w), as_.append(a), ss.append(s), zs.append(z)
        lasts.append(np.arange(n) == n - 1)
        desc.append(f"sequence {q} (n={n}, w0={int(w[0]):#x} a0={int(a[0]):#x} "
                    f"s0={int(s[0]):#x} z0={int(z[0]):#x})")
    last = np.concatenate(lasts)
    items = pack(lay, w=np.concatenate(ws), a=np.concatenate(as_), scale=np.concatenate(ss),
                 zero=np.concatenate(zs), last=last)
    return Suite("sequences_backpressure", items, last, np.asarray(exp, np.uint64),
                 desc.__getitem__, len(items), HEAVY, False,
                 (time.perf_counter() - t_start, time.process_time() - c_start))


def _exact_sum(sig: np.ndarray, shift: np.ndarray, bits: int) -> int:
    """``sum(sig << shift)`` as an exact Python int, wrapped to ``bits`` (two's complement;
    the models wrap after every element, which is the same modulo ``2**bits``)."""
    acc = sum(x << h for x, h in zip(sig.tolist(), shift.tolist(), strict=True))
    acc &= (1 << bits) - 1
    return acc - (1 << bits) if acc >> (bits - 1) else acc


def _seq_check(q: int, n: int) -> bool:
    """Which sequences the vectorised sequence models are cross-checked on at run time (the
    short ones: the scalar model costs ~10 us per product; ``test_pe_fast`` checks long
    random sequences without a simulator)."""
    return n <= 32


# ----------------------------------------------------------------------------- baselines


def dequant_first_singles(p: dict[str, Any], w: np.ndarray, a: np.ndarray, sm: np.ndarray,
                          z: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Vectorised ``dequant_first_pe`` of one element: ``ts * sat8((w - z) * sm) * a``."""
    wv = ref.decode_weight(w, k=p["k"])
    w8 = np.clip((wv - _s8(z)) * (np.asarray(sm, I64) & 0xFF), -128, 127)
    sig, exp, sp = decode_exact("float16", np.asarray(ts, np.uint64))
    return _round(p["out"], sig * (w8 * _s8(a)), exp, sp != 0)


def fp16_mac_singles(p: dict[str, Any], w: np.ndarray, a: np.ndarray, s: np.ndarray,
                     z: np.ndarray) -> np.ndarray:
    """Vectorised ``fp16_mac_pe`` of one element: ``round(fp16(s * (w - z)) * a)``."""
    wv = ref.decode_weight(w, k=p["k"])
    s_sig, s_exp, s_sp = decode_exact("float16", np.asarray(s, np.uint64))
    wf = round_scaled("float16", s_sig * (wv - _s8(z)), s_exp)
    w_sig, w_exp, w_sp = decode_exact("float16", wf.astype(np.uint64))
    a_sig, a_exp, a_sp = decode_exact("float16", np.asarray(a, np.uint64))
    nan = (s_sp != 0) | (w_sp != 0) | (a_sp != 0)
    return _round(p["out"], w_sig * a_sig, w_exp + a_exp, nan)


def fp16_mac_sequence(p: dict[str, Any], w: np.ndarray, a: np.ndarray, s: np.ndarray,
                      z: np.ndarray) -> int:
    """``fp16_mac_pe`` of one sequence: per-element products vectorised (as in
    :func:`fp16_mac_singles`), their exact sum in Python ints, one rounding."""
    wv = ref.decode_weight(w, k=p["k"])
    s_sig, s_exp, s_sp = decode_exact("float16", np.asarray(s, np.uint64))
    wf = round_scaled("float16", s_sig * (wv - _s8(z)), s_exp)
    w_sig, w_exp, w_sp = decode_exact("float16", wf.astype(np.uint64))
    a_sig, a_exp, a_sp = decode_exact("float16", np.asarray(a, np.uint64))
    nan = bool(((s_sp != 0) | (w_sp != 0) | (a_sp != 0)).any())
    acc = _exact_sum(w_sig * a_sig, w_exp + a_exp - ref.FP16MAC_ACC_LSB, ref.FP16MAC_ACC_BITS)
    return ref.round_fixed(p["out"], acc, ref.FP16MAC_ACC_LSB, nan=nan)


def _baseline_random(p: dict[str, Any], rng: np.random.Generator, n: int) -> dict[str, Any]:
    w = rng.integers(0, 1 << p["k"], n)
    if p["kind"] == "mul_dequant_first":
        return {"w": w, "a": rng.integers(0, 256, n), "sm": rng.integers(0, 256, n),
                "z": rng.integers(0, 256, n),
                "ts": rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15)}
    a = rng.integers(0, 1 << 16, n) & np.where(rng.random(n) < 0.995, 0xBFFF, 0xFFFF)
    s = rng.integers(0, 0x6000, n) | (rng.integers(0, 2, n) << 15)
    return {"w": w, "a": a, "s": s, "z": rng.integers(0, 256, n)}


def _baseline_plans(p: dict[str, Any], rng: np.random.Generator) -> list[Suite]:
    k, lay, dq = p["k"], layout_of(p), p["kind"] == "mul_dequant_first"
    names = ("w", "a", "sm", "z", "ts") if dq else ("w", "a", "s", "z")

    def singles(name: str, cols: dict[str, Any], rate: tuple[int, int], timing: bool = False,
                edges: int = 0) -> Suite:
        t0, c0 = time.perf_counter(), time.process_time()
        c = {x: np.broadcast_to(np.asarray(cols[x], I64), (len(cols["w"]),)) for x in names}
        if dq:
            exp = dequant_first_singles(p, c["w"], c["a"], c["sm"], c["z"], c["ts"])
            items = pack(lay, w=c["w"], a=c["a"], sm=c["sm"], zero=c["z"], tscale=c["ts"],
                         last=1)

            def scalar(j: int) -> int:
                return ref.dequant_first_pe([c["w"][j]], [c["a"][j]], [c["sm"][j]],
                                            [c["z"][j]], [c["ts"][j]], k=k, out=p["out"])
        else:
            exp = fp16_mac_singles(p, c["w"], c["a"], c["s"], c["z"])
            items = pack(lay, w=c["w"], a=c["a"], scale=c["s"], zero=c["z"], last=1)

            def scalar(j: int) -> int:
                return ref.fp16_mac_pe([c["w"][j]], [c["a"][j]], [c["s"][j]], [c["z"][j]],
                                       k=k, out=p["out"])
        dt = (time.perf_counter() - t0, time.process_time() - c0)
        return Suite(name, items, np.ones(len(items), bool), exp, _hexcols(c, names),
                     len(items), rate, timing, dt, scalar, edges, c)

    n = int(p.get("vectors", 100_000))
    out = []
    if dq:
        rows, tag = _exhaustive_rows(p, rng, 256 << k)
        w, a = rows >> 8, rows & 0xFF
        out.append(singles(f"products_WxA_{tag}",
                           {"w": w, "a": a, "sm": 1, "z": 0, "ts": 0x3C00}, FULL, True, len(w)))
    else:
        w, a, s = (x.ravel() for x in np.meshgrid(np.arange(1 << k), FP16_EDGES, SCALE_EDGES,
                                                   indexing="ij"))
        out.append(singles("fp16_edges", {"w": w, "a": a, "s": s,
                                          "z": np.where(np.arange(len(w)) % 3 == 0, 0x81, 0)},
                           FULL, True, len(w)))
    out.append(singles("products_random", _baseline_random(p, rng, n), LIGHT))
    # sequences through the scalar model
    lasts, exp, desc, cols = [], [], [], []
    t_start, c_start = time.perf_counter(), time.process_time()
    for q in range(int(p.get("sequences", 40))):
        m = int(rng.choice([1, 2, 128, int(rng.integers(1, 1025))]))
        c = _baseline_random(p, rng, m)
        if dq:
            exp.append(ref.dequant_first_pe(c["w"], c["a"], c["sm"], c["z"], c["ts"], k=k,
                                            out=p["out"]))
        else:
            exp.append(fp16_mac_sequence(p, c["w"], c["a"], c["s"], c["z"]))
            if _seq_check(q, m):
                want = ref.fp16_mac_pe(c["w"], c["a"], c["s"], c["z"], k=k, out=p["out"])
                assert exp[-1] == want, f"fp16_mac_sequence {exp[-1]:#x} != models {want:#x}"
        cols.append(c)
        lasts.append(np.arange(m) == m - 1)
        desc.append(f"sequence {q} (n={m}, w0={int(c['w'][0]):#x} a0={int(c['a'][0]):#x})")
    last = np.concatenate(lasts)
    cat = {x: np.concatenate([c[x] for c in cols]) for x in names}
    if dq:
        items = pack(lay, w=cat["w"], a=cat["a"], sm=cat["sm"], zero=cat["z"],
                     tscale=cat["ts"], last=last)
    else:
        items = pack(lay, w=cat["w"], a=cat["a"], scale=cat["s"], zero=cat["z"], last=last)
    out.append(Suite("sequences_backpressure", items, last, np.asarray(exp, np.uint64),
                     desc.__getitem__, len(items), HEAVY, False,
                 (time.perf_counter() - t_start, time.process_time() - c_start)))
    return out


# ----------------------------------------------------------------------------- MultiFormatMAC


def multiformat_singles(out: str, mode: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised ``multiformat_mac(mode, [a], [b], out=out)``: exact lane-product sum, once
    rounded (lane products are aligned to the row's smallest exponent: < 2**47 for every
    <= 8-bit mode, a single product for posit16)."""
    fmt, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
    a = np.asarray(a, I64)
    b = np.asarray(b, I64)
    sigs, exps = [], []
    nan = np.zeros(len(a), bool)
    for j in range(lanes):
        sa, ea, xa = decode_exact(fmt, ((a >> (j * lw)) & ((1 << lw) - 1)).astype(np.uint64))
        sb, eb, xb = decode_exact(fmt, ((b >> (j * lw)) & ((1 << lw) - 1)).astype(np.uint64))
        nan |= (xa != 0) | (xb != 0)
        sigs.append(sa * sb)
        exps.append(ea + eb)
    emin = np.minimum.reduce(exps)
    total = sum(s << (e - emin) for s, e in zip(sigs, exps, strict=True))
    return _round(out, total, emin, nan)


def multiformat_sequence(out: str, modes: list[int], a: list[int], b: list[int]) -> int:
    """``multiformat_mac`` of one sequence: lane products vectorised per mode, their exact
    sum in Python ints (the quire, wrapped to ``QUIRE_BITS``), one rounding."""
    mo, av, bv = np.asarray(modes), np.asarray(a, I64), np.asarray(b, I64)
    sigs, shifts, nan = [], [], False
    for mode in np.unique(mo).tolist():
        fmt, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
        sel = mo == mode
        for j in range(lanes):
            fa = ((av[sel] >> (j * lw)) & ((1 << lw) - 1)).astype(np.uint64)
            fb = ((bv[sel] >> (j * lw)) & ((1 << lw) - 1)).astype(np.uint64)
            sa, ea, xa = decode_exact(fmt, fa)
            sb, eb, xb = decode_exact(fmt, fb)
            nan |= bool(((xa != 0) | (xb != 0)).any())
            sigs.append(sa * sb)
            shifts.append(ea + eb - ref.QUIRE_LSB)
    acc = _exact_sum(np.concatenate(sigs), np.concatenate(shifts), ref.QUIRE_BITS)
    return ref.round_fixed(out, acc, ref.QUIRE_LSB, nan=nan)


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


def _mac_model(p: dict[str, Any]) -> Callable[..., int]:
    """The scalar reference of a multi-format kind (separate MACs read out the last element's
    mode only; the shared-quire designs sum every mode)."""
    return ref.separate_macs_mac if p["kind"] == "separate_macs" else ref.multiformat_mac


def _multiformat_plans(p: dict[str, Any], rng: np.random.Generator) -> list[Suite]:
    lay, outf, model = layout_of(p), p["out"], _mac_model(p)
    out = []

    def singles(name: str, mode: int, a: np.ndarray, b: np.ndarray, rate: tuple[int, int],
                timing: bool = False, edges: int = 0) -> Suite:
        t0, c0 = time.perf_counter(), time.process_time()
        exp = multiformat_singles(outf, mode, a, b)
        mname = ref.MODES[mode]
        items = pack(lay, a=a, b=b, mode=mode, last=1)
        dt = (time.perf_counter() - t0, time.process_time() - c0)
        return Suite(name, items, np.ones(len(items), bool), exp,
                     lambda j: f"mode={mname} a={int(a[j]):#x} b={int(b[j]):#x}", len(items),
                     rate, timing, dt,
                     lambda j: model(mname, [int(a[j])], [int(b[j])], out=outf),
                     edges, {"a": a, "b": b})

    for mode in (0, 1, 2):  # every operand pair of FP4, posit(4,1), posit(8,0) in every lane
        _, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
        rows, tag = _exhaustive_rows(p, rng, 1 << (2 * lw))
        a, b = lane_words(rows, lanes, lw)
        out.append(singles(f"{tag}_{ref.MODES[mode]}", mode, a, b,
                           FULL if mode == 0 else LIGHT, timing=mode == 0, edges=len(a)))
    ea, eb = (x.ravel().astype(I64) for x in np.meshgrid(P16_EDGES, P16_EDGES, indexing="ij"))
    n = int(p.get("vectors", 100_000))
    a = np.concatenate([ea, rng.integers(0, 1 << 16, n)])
    b = np.concatenate([eb, rng.integers(0, 1 << 16, n)])
    out.append(singles("posit16_edges_random", 3, a, b, LIGHT, edges=len(ea)))
    out.append(_multiformat_sequences(p, rng, lay))
    return out


def _multiformat_sequences(p: dict[str, Any], rng: np.random.Generator, lay: Any) -> Suite:
    """Sequences (1..1024) whose mode switches between and within accumulations (separate
    MACs: within only every sixth sequence, checking that the last element's MAC is read)."""
    model, sep = _mac_model(p), p["kind"] == "separate_macs"
    As, Bs, Ms, lasts, exp, desc = [], [], [], [], [], []
    t_start, c_start = time.perf_counter(), time.process_time()
    for q in range(int(p.get("sequences", 40))):
        n = int(rng.choice([1, 2, 3, 16, int(rng.integers(1, 1025))]))
        if q % 3 == 0 or (sep and q % 6 != 5):  # one mode, switching between accumulations
            modes = [int(q // 3 if not sep else q) % 4] * n
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
            modes = [m if m != 2 else 3 for m in modes]
        names = [ref.MODES[x] for x in modes]
        if sep:  # separate MACs: the scalar model (only the last element's mode counts)
            exp.append(model(names, a, b, out=p["out"]))
        else:
            exp.append(multiformat_sequence(p["out"], modes, a, b))
            if _seq_check(q, n):
                want = model(names, a, b, out=p["out"])
                assert exp[-1] == want, f"multiformat_sequence {exp[-1]:#x} != models {want:#x}"
        As.append(a), Bs.append(b), Ms.append(modes)
        lasts.append(np.arange(n) == n - 1)
        desc.append(f"sequence {q} (n={n}, mode0={ref.MODES[modes[0]]} a0={a[0]:#x} "
                    f"b0={b[0]:#x})")
    last = np.concatenate(lasts)
    items = pack(lay, a=np.concatenate(As), b=np.concatenate(Bs), mode=np.concatenate(Ms),
                 last=last)
    return Suite("mixed_mode_sequences_backpressure", items, last, np.asarray(exp, np.uint64),
                 desc.__getitem__, len(items), HEAVY, False,
                 (time.perf_counter() - t_start, time.process_time() - c_start))


# ----------------------------------------------------------------------------- entry points


def plans(p: dict[str, Any]) -> list[Suite]:
    """Every suite for the PE described by the testbench parameters ``p``."""
    rng = np.random.default_rng(int(p.get("seed", 6)))
    kind = p["kind"]
    if kind == "shift_add":
        return _shift_add_plans(p, rng)
    if kind in ("mul_dequant_first", "fp16_mac"):
        return _baseline_plans(p, rng)
    if kind in ("multiformat", "shared_quire", "separate_macs"):
        return _multiformat_plans(p, rng)
    raise ValueError(f"no fast-harness plan for PE kind {kind!r}")


def cross_check(suite: Suite, rng: np.random.Generator, sample: int = 600,
                edge_cap: int = 600) -> int:
    """Compare the vectorised expectations of a singles suite with the scalar ``models.pe``
    function on its first ``edge_cap`` edge rows and a seeded sample; raises AssertionError on
    any difference. Returns the number of rows compared (0 for sequence suites: already
    scalar)."""
    if suite.scalar is None:
        return 0
    n = len(suite.expected)
    idx = np.arange(min(suite.edges, n, edge_cap))
    if n > len(idx):
        idx = np.union1d(idx, rng.choice(n, size=min(sample, n), replace=False))
    for j in idx.tolist():
        want = suite.scalar(j)
        got = int(suite.expected[j])
        assert got == want, (f"{suite.name}: vectorised model {got:#x} != models.pe {want:#x} "
                             f"for {suite.describe(j)}")
    return len(idx)
