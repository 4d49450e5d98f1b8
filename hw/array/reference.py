"""NumPy reference of what a :class:`PEArray` computes, built on ``mixforge.models``.

All inputs are unsigned bit patterns. The array's semantics per dataflow / cell:

* ``shift_add``: integer GEMM ``C = A @ W`` of signed ``a_bits`` activations and signed
  ``w_bits`` weights, exact (``models.pe.shift_add_mul`` gives each product). With a
  quantization group G along K, :func:`group_psums` returns the per-group integer sums
  (MixPE: dequantize once per group, after the integer accumulation).
* ``posit8``: exact posit(8,0) products (``models.exact.decode_exact``) summed exactly in fixed
  point (LSB 2**-12); NaR operands make the sum NaR; the OS array rounds each sum once to
  posit(8,0) (``models.exact.round_scaled``, RNE on the encoding, saturating).
* ``dequant`` (OS shift-and-add with MixPE group dequantization at the edge): every output
  element is ``models.pe.shift_add_pe`` of its row of A and column of W (integer sums per group,
  ``s * (sum(w*a) - z * sum(a))`` once per group, exact accumulation over the groups, one
  rounding into float32/float16), bit for bit. The WS dequant array (same function) is checked
  against :func:`dequant_outputs`, the same semantics vectorised over M x N (cross-checked
  against the scalar model in ``tests/hw/test_array_ws_dequant.py``).
* ``dequant_first`` (the multiplier baseline): every output element is
  ``models.pe.dequant_first_pe`` (per-weight ``sat_int8((w - z) * sm)``, int32 accumulation,
  one float16 tensor scale, one rounding).
* ``multiformat`` (XR-NPE cells): ``models.pe.multiformat_mac`` per output element on the
  operands packed L per 16-bit word along K (:func:`multiformat_outputs`, vectorised).
* ``shared_quire`` (the "separate multipliers, shared quire" baseline): the same function as
  ``multiformat``. ``separate_macs`` (one complete MAC per format): ``models.pe.separate_macs_mac``
  per output element (:func:`separate_macs_outputs`: the mode's own accumulator, wrapping at
  ``models.pe.SEPARATE_ACC``).
* ``fp16_mac`` (the W(k)A16 FP16 baseline): ``models.pe.fp16_mac_pe`` per output element
  (:func:`fp16_mac_outputs`, vectorised).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.array.config import POSIT8_FIXED_LSB, ArrayConfig
from mixforge.hw.array.tiling import QuantParams

__all__ = ["decode_operands", "products", "gemm_fixed", "group_psums", "round_outputs",
           "reference_outputs", "random_quant", "float_outputs", "dequant_outputs",
           "multiformat_outputs", "fp16_mac_outputs", "random_multiformat",
           "separate_macs_outputs"]

I64 = NDArray[np.int64]


def _signed(bits: NDArray[np.integer], width: int) -> I64:
    v = np.asarray(bits).astype(np.int64) & ((1 << width) - 1)
    return np.where(v >> (width - 1) == 1, v - (1 << width), v)


def decode_operands(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer]
                    ) -> tuple[I64, I64, NDArray[np.bool_], NDArray[np.bool_]]:
    """Activation and weight patterns -> fixed-point integers and NaR masks.

    ``shift_add``: the signed integers. ``posit8``: value * 2**6 (exact).
    """
    if cfg.pe == "shift_add":
        return (_signed(a, cfg.a_bits), _signed(w, cfg.w_bits),
                np.zeros(np.shape(a), bool), np.zeros(np.shape(w), bool))
    from mixforge.models.exact import NAN, decode_exact

    vals: list[I64] = []
    nars: list[NDArray[np.bool_]] = []
    for x in (a, w):
        sig, exp, special = decode_exact("posit8_es0", np.asarray(x).astype(np.uint8))
        # value = sig * 2**exp with exp >= -6 for every posit(8,0): the shift is exact.
        vals.append(np.where(special == NAN, 0, sig << (exp + 6)).astype(np.int64))
        nars.append(special == NAN)
    return vals[0], vals[1], nars[0], nars[1]


def products(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer]) -> I64:
    """Elementwise exact products of matching activation/weight patterns (fixed point)."""
    if cfg.pe == "shift_add" and cfg.a_bits == 8:
        from mixforge.models.pe import shift_add_mul

        return shift_add_mul(np.asarray(w), np.asarray(a), k=cfg.w_bits, act="int8")
    av, wv, _, _ = decode_operands(cfg, a, w)
    return av * wv


def gemm_fixed(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer]
               ) -> tuple[I64, NDArray[np.bool_]]:
    """Exact ``A @ W`` (M x K @ K x N) in fixed point, and the NaR mask of each output.

    Integer cells: LSB 1. posit8: LSB 2**-12. int64 is exact: |sum| < K * 2**24 < 2**63.
    """
    av, wv, an, wn = decode_operands(cfg, a, w)
    nar = (an.astype(np.int64) @ np.ones_like(wv) + np.ones_like(av) @ wn.astype(np.int64)) > 0
    if cfg.pe == "shift_add" and cfg.a_bits == 8:
        # Sum of the models' shift-and-add products (same values as av @ wv, spelled as MixPE).
        prod = products(cfg, a[:, :, None], w[None, :, :])
        return prod.sum(axis=1), nar
    return av @ wv, nar


def group_psums(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                group_size: int | None) -> tuple[I64, NDArray[np.bool_]]:
    """Per-group exact sums: shape (groups, M, N); ``group_size=None`` means one group."""
    k = np.shape(a)[1]
    g = k if group_size is None else group_size
    sums, nars = [], []
    for s in range(0, k, g):
        v, n = gemm_fixed(cfg, a[:, s:s + g], w[s:s + g, :])
        sums.append(v)
        nars.append(n)
    return np.stack(sums), np.stack(nars)


def round_outputs(cfg: ArrayConfig, fixed: I64, nar: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Round posit8 fixed-point sums (LSB 2**-12) once to posit(8,0) patterns."""
    from mixforge.models.exact import round_scaled

    out = round_scaled("posit8_es0", np.asarray(fixed, np.int64), POSIT8_FIXED_LSB)
    return np.where(nar, np.uint8(0x80), out).astype(np.uint8)


def _fp16_patterns(rng: np.random.Generator, shape: tuple[int, ...], special: float
                   ) -> NDArray[np.int64]:
    """Random float16 patterns: both signs, exponents 0..30 (subnormals included), and a
    fraction ``special`` of Inf/NaN."""
    sign = rng.integers(0, 2, shape) << 15
    exp = rng.integers(0, 31, shape)
    exp = np.where(rng.random(shape) < special, 31, exp)
    return (sign | (exp << 10) | rng.integers(0, 1024, shape)).astype(np.int64)


def random_quant(cfg: ArrayConfig, rng: np.random.Generator, k: int, n: int, *,
                 special: float = 0.0) -> QuantParams:
    """Random quantization parameters for a K x N weight matrix of a float-output array."""
    groups = -(-k // cfg.group)
    zero = np.where(rng.random((groups, n)) < 0.8,
                    rng.integers(-(1 << (cfg.w_bits - 1)), 1 << (cfg.w_bits - 1), (groups, n)),
                    rng.integers(-128, 128, (groups, n))) & 0xFF
    if cfg.dequant:
        return QuantParams(group=cfg.group, zero=zero,
                           scale=_fp16_patterns(rng, (groups, n), special))
    if cfg.pe == "fp16_mac":  # moderate scales (2**-14 .. 2**-1): s * (w - z) mostly finite
        sc = _fp16_patterns(rng, (groups, n), special)
        sc = np.where((sc >> 10) & 0x1F == 0x1F, sc, (sc & 0x83FF) | (rng.integers(1, 15, (
            groups, n)) << 10))
        return QuantParams(group=cfg.group, zero=zero, scale=sc)
    sm = np.where(rng.random((groups, n)) < 0.8, rng.integers(0, 24, (groups, n)),
                  rng.integers(0, 256, (groups, n)))
    return QuantParams(group=cfg.group, zero=zero, sm=sm,
                       tscale=_fp16_patterns(rng, (n,), special))


def float_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                  quant: QuantParams) -> NDArray[np.int64]:
    """Float output patterns (1, M, N) of a ``dequant`` / ``dequant_first`` array."""
    from mixforge.models.pe import dequant_first_pe, shift_add_pe

    m_dim, k_dim = np.shape(a)
    n_dim = np.shape(w)[1]
    a8 = _signed(a, cfg.a_bits) & 0xFF  # a_bits patterns as the int8 patterns of their values
    gidx = np.arange(k_dim) // quant.group
    out = np.zeros((1, m_dim, n_dim), np.int64)
    for j in range(n_dim):
        z = np.asarray(quant.zero)[gidx, j]
        for i in range(m_dim):
            if cfg.dequant:
                s = np.asarray(quant.scale)[gidx, j]
                out[0, i, j] = shift_add_pe(w[:, j], a8[i], s, z, k=cfg.w_bits, act="int8",
                                            group=quant.group, out=cfg.out)
            else:
                sm = np.asarray(quant.sm)[gidx, j]
                ts = [int(np.asarray(quant.tscale)[j])]
                out[0, i, j] = dequant_first_pe(w[:, j], a8[i], sm, z, ts, k=cfg.w_bits,
                                                out=cfg.out)
    return out


def dequant_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                    quant: QuantParams) -> NDArray[np.int64]:
    """``models.pe.shift_add_pe`` for every output element at once: (1, M, N) float patterns.

    Vectorised over M x N per group: integer group sums ``sum(w*a)`` (the models' shift-and-add
    products, :func:`products`) and ``sum(a)`` in int64 (exact: |values| < 2**40), then
    ``s * (sum(w*a) - z * sum(a))`` at ``2**acc_lsb`` as Python integers (object arrays; the
    terms exceed int64 for large groups), the accumulator wrapped to ``ShiftAddArith.acc`` bits
    (modular addition: wrapping once at the end equals the model's wrap per group), and one
    rounding per element by ``models.pe.round_fixed``; any Inf/NaN scale gives the NaN.
    """
    from mixforge.models.pe import round_fixed, shift_add_arith

    m_dim, k_dim = np.shape(a)
    n_dim = np.shape(w)[1]
    if cfg.act == "fp16":  # W(k)A16: fixed point at 2**-24 (Inf/NaN as 0, flagged per row)
        return _dequant_outputs_fp16(cfg, a, w, quant)
    ar = shift_add_arith(k=cfg.w_bits, act="int8", group=quant.group)
    a8 = _signed(a, cfg.a_bits) & 0xFF  # a_bits patterns as the int8 patterns of their values
    a_val = _signed(a8, 8)
    acc = np.zeros((m_dim, n_dim), object)
    nan = np.zeros((m_dim, n_dim), bool)
    i8 = replace(cfg, a_bits=8)
    for gi, gs in enumerate(range(0, k_dim, quant.group)):
        ge = min(gs + quant.group, k_dim)
        swa = products(i8, a8[:, None, gs:ge], np.asarray(w)[gs:ge, :].T[None]).sum(axis=2)
        sa = a_val[:, gs:ge].sum(axis=1)
        z = _signed(np.asarray(quant.zero)[gi], 8)
        sc = np.asarray(quant.scale)[gi].astype(np.int64) & 0xFFFF
        e, f = (sc >> 10) & 0x1F, sc & 0x3FF
        sig = np.where(e == 0x1F, 0, np.where(sc >> 15 == 1, -1, 1) * (f | (e > 0) << 10))
        p = swa - sa[:, None] * z[None, :]
        # s * P at 2**-24 * 2**act_lsb: sig * 2**(max(e, 1) - 25) * P = (sig * P) << (max(e,1)-1)
        acc = acc + ((sig[None, :] * p).astype(object) << (np.maximum(e, 1) - 1)[None, :]
                     .astype(object))
        nan |= (e == 0x1F)[None, :]
    half = 1 << (ar.acc - 1)
    acc = (acc + half) % (1 << ar.acc) - half
    rnd = np.frompyfunc(lambda x, n: round_fixed(cfg.out, int(x), ar.acc_lsb, bool(n)), 2, 1)
    return rnd(acc, nan).astype(np.int64)[None]


def _dequant_outputs_fp16(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                          quant: QuantParams) -> NDArray[np.int64]:
    """:func:`dequant_outputs` of an ``act: fp16`` array (``shift_add_pe(act="fp16")``):
    group sums of the models' shift-and-add products of the FP16 activations in fixed point
    at 2**-24 (``models.pe.shift_add_mul(act="fp16")``; int64 is exact: |w*a| < 2**43), sum(a)
    at 2**-24, the same exact group dequant ``s * (sum(w*a) - z * sum(a))`` at 2**-48
    (``ShiftAddArith.acc_lsb``), wrapped to ``ShiftAddArith.acc`` bits and rounded once; an
    Inf/NaN scale makes its column NaN and an Inf/NaN activation its whole output row."""
    from mixforge.models.pe import shift_add_arith, shift_add_mul

    m_dim, k_dim = np.shape(a)
    n_dim = np.shape(w)[1]
    ar = shift_add_arith(k=cfg.w_bits, act="fp16", group=quant.group)
    a16 = np.asarray(a).astype(np.int64) & 0xFFFF
    a_val, a_bad = _fp16_fixed24(a16)
    a_fin = np.where(a_bad, 0, a16)  # the sums of a NaN row are never used
    acc = np.zeros((m_dim, n_dim), object)
    nan = np.zeros((m_dim, n_dim), bool) | np.any(a_bad, axis=1)[:, None]
    for gi, gs in enumerate(range(0, k_dim, quant.group)):
        ge = min(gs + quant.group, k_dim)
        swa = shift_add_mul(np.asarray(w)[gs:ge, :].T[None], a_fin[:, None, gs:ge],
                            k=cfg.w_bits, act="fp16").sum(axis=2)
        sa = a_val[:, gs:ge].sum(axis=1)
        z = _signed(np.asarray(quant.zero)[gi], 8)
        sc = np.asarray(quant.scale)[gi].astype(np.int64) & 0xFFFF
        e, f = (sc >> 10) & 0x1F, sc & 0x3FF
        sig = np.where(e == 0x1F, 0, np.where(sc >> 15 == 1, -1, 1) * (f | (e > 0) << 10))
        p = swa - sa[:, None] * z[None, :]  # exact in int64: |p| < 2**62 (ShiftAddArith.diff)
        # s * P at 2**-24 * 2**-24: (sig * P) << (max(e, 1) - 1), as Python integers
        acc = acc + ((sig[None, :] * p.astype(object)) << (np.maximum(e, 1) - 1)[None, :]
                     .astype(object))
        nan |= (e == 0x1F)[None, :]
    return _wrap_round(acc, nan, ar.acc, ar.acc_lsb, cfg.out)[None]


def reference_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                      group_size: int | None = None, quant: QuantParams | None = None,
                      mode: str | None = None) -> NDArray[np.int64]:
    """What the testbench checks: per-group sums (groups, M, N); OS posit8: rounded patterns;
    float-output arrays: their float patterns (1, M, N) (``quant`` required).

    A posit8 NaR output is reported as the sum value ``-(2**62)`` (WS) so one int64 array
    carries both; the OS array reports the NaR pattern 0x80.
    """
    if cfg.mode_words:
        if mode is None:
            raise ValueError(f"{cfg.name} needs the GEMM's mode (mode=)")
        if cfg.pe == "separate_macs":
            return separate_macs_outputs(cfg, a, w, mode)
        return multiformat_outputs(cfg, a, w, mode)
    if cfg.float_out:
        if quant is None:
            raise ValueError(f"{cfg.name} needs quantization parameters (quant=)")
        if cfg.ws_dequant or cfg.act == "fp16":
            return dequant_outputs(cfg, a, w, quant)
        if cfg.pe == "fp16_mac":
            return fp16_mac_outputs(cfg, a, w, quant)
        return float_outputs(cfg, a, w, quant)
    sums, nar = group_psums(cfg, a, w, group_size)
    if cfg.pe == "posit8" and cfg.dataflow == "os":
        return round_outputs(cfg, sums, nar).astype(np.int64)
    return np.where(nar, -(1 << 62), sums)


# ---------------------------------------------------------------- multiformat / fp16_mac


def _wrap_round(acc: NDArray[np.object_], nan: NDArray[np.bool_], bits: int, lsb: int,
                out: str) -> NDArray[np.int64]:
    """Wrap exact sums to ``bits`` (once: modular, so equal to the models' wrap per step) and
    round each once into ``out`` with ``models.pe.round_fixed``."""
    from mixforge.models.pe import round_fixed

    half = 1 << (bits - 1)
    acc = (acc + half) % (1 << bits) - half
    rnd = np.frompyfunc(lambda x, n: round_fixed(out, int(x), lsb, bool(n)), 2, 1)
    return np.asarray(rnd(acc, nan)).astype(np.int64).reshape(np.shape(acc))


def multiformat_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                        mode: str) -> NDArray[np.int64]:
    """Output patterns (1, M, N) of a ``multiformat`` array: ``models.pe.multiformat_mac`` of
    row i of A and column j of W packed into words (``tiling.pack_lane_words``), vectorised.

    Every element pattern is decoded once by ``models.pe.decode_value`` (a table per format)
    into an integer at 2**-28 (every posit16_es1 / posit8 / posit4 / FP4 value is a multiple of
    posit16's minpos 2**-28, and |value| <= 2**28 fits int64); ``A @ W`` of those as Python
    integers is the exact sum at the quire LSB 2**-56 (zero padding adds nothing). Any NaR in
    row i or column j gives NaR / NaN; then :func:`_wrap_round` (128-bit quire).
    """
    from mixforge.models.pe import QUIRE_BITS, QUIRE_LSB

    return _lane_outputs(cfg, a, w, mode, QUIRE_BITS, QUIRE_LSB)


def separate_macs_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                          mode: str) -> NDArray[np.int64]:
    """Output patterns (1, M, N) of a ``separate_macs`` array: ``models.pe.separate_macs_mac``
    of row i of A and column j of W packed into words (one mode per GEMM): the exact sum in
    the mode's own accumulator (``SEPARATE_ACC``: LSB = the format's minpos**2, wrapping at
    its width), rounded once, computed as :func:`multiformat_outputs`."""
    from mixforge.models.pe import SEPARATE_ACC

    bits, lsb = SEPARATE_ACC[mode]
    return _lane_outputs(cfg, a, w, mode, bits, lsb)


def _lane_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                  mode: str, bits: int, lsb: int) -> NDArray[np.int64]:
    """Exact ``A @ W`` of ``mode``'s lane patterns at ``2**lsb`` (elements at ``2**(lsb/2)``:
    every value of the format is a multiple of it), wrapped to ``bits`` and rounded."""
    from mixforge.models.pe import decode_value, mac_lane_formats

    fmt, _, lw = mac_lane_formats(mode)
    table = np.array([decode_value(fmt, p) for p in range(1 << lw)], np.int64)
    half = -lsb // 2
    assert (table[table[:, 0] != 0, 1] + half).min() >= 0, "element LSB below 2**(lsb/2)"
    fixed = np.where(table[:, 2] == 1, 0, table[:, 0] << np.maximum(table[:, 1] + half, 0))
    nar = table[:, 2] == 1
    ai = np.asarray(a).astype(np.int64) & ((1 << lw) - 1)
    wi = np.asarray(w).astype(np.int64) & ((1 << lw) - 1)
    acc = fixed[ai].astype(object) @ fixed[wi].astype(object)
    nan = nar[ai].any(axis=1)[:, None] | nar[wi].any(axis=0)[None, :]
    return _wrap_round(acc, nan, bits, lsb, cfg.out)[None]


def _fp16_fixed24(x: NDArray[np.integer]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """float16 patterns -> (value at 2**-24 as int64, non-finite mask)."""
    x = np.asarray(x).astype(np.int64) & 0xFFFF
    e, f = (x >> 10) & 0x1F, x & 0x3FF
    mag = (f | np.where(e > 0, 1024, 0)) << (np.maximum(e, 1) - 1)
    return np.where(e == 0x1F, 0, np.where(x >> 15 == 1, -mag, mag)), e == 0x1F


def fp16_mac_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                     quant: QuantParams) -> NDArray[np.int64]:
    """Output patterns (1, M, N) of an ``fp16_mac`` array: ``models.pe.fp16_mac_pe`` per
    element, vectorised: every weight once ``wf = float16(s * (w - z))`` (``round_fixed``),
    then the exact ``A @ WF`` at 2**-48 as Python integers; NaN from any non-finite ``a`` in
    the row or ``s`` / ``wf`` in the column; :func:`_wrap_round` (``FP16MAC_ACC_BITS``)."""
    from mixforge.models.pe import FP16MAC_ACC_BITS, FP16MAC_ACC_LSB, decode_weight, round_fixed

    k_dim = np.shape(a)[1]
    gidx = np.arange(k_dim) // quant.group
    s = np.asarray(quant.scale).astype(np.int64)[gidx] & 0xFFFF
    z = _signed(np.asarray(quant.zero)[gidx], 8)
    s_fix, s_bad = _fp16_fixed24(s)
    d = decode_weight(np.asarray(w), k=cfg.w_bits) - z
    rnd = np.frompyfunc(lambda sv, dv: round_fixed("float16", int(sv) * int(dv), -24), 2, 1)
    wf = np.asarray(rnd(s_fix, d)).astype(np.int64)
    w_fix, w_bad = _fp16_fixed24(wf)
    a_fix, a_bad = _fp16_fixed24(a)
    acc = a_fix.astype(object) @ w_fix.astype(object)
    row_bad: NDArray[np.bool_] = np.asarray(np.any(a_bad, axis=1))
    col_bad: NDArray[np.bool_] = np.asarray(np.any(s_bad | w_bad, axis=0))
    nan = row_bad[:, None] | col_bad[None, :]
    return _wrap_round(acc, nan, FP16MAC_ACC_BITS, FP16MAC_ACC_LSB, cfg.out)[None]


def random_multiformat(rng: np.random.Generator, mode: str, shape: tuple[int, ...], *,
                       special: float = 0.0) -> NDArray[np.int64]:
    """Random element patterns of ``mode``'s lane format: FP4 / posit4 uniform, posit8 and
    posit16 mostly |x| < 1 (sums stay in range and exercise the rounding) with some full-range
    patterns; NaR (posits) only with probability ``special``."""
    from mixforge.models.pe import mac_lane_formats, nan_bits

    fmt, _, lw = mac_lane_formats(mode)
    full = rng.integers(0, 1 << lw, shape)
    if lw >= 8:
        small = rng.integers(-(1 << (lw - 2)) + 1, 1 << (lw - 2), shape) & ((1 << lw) - 1)
        full = np.where(rng.random(shape) < 0.75, small, full)
    if fmt.startswith("posit"):
        nar = nan_bits(fmt)
        full = np.where(full == nar, 0, full)
        full = np.where(rng.random(shape) < special, nar, full)
    return full.astype(np.int64)
