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
  rounding into float32/float16), bit for bit.
* ``dequant_first`` (the multiplier baseline): every output element is
  ``models.pe.dequant_first_pe`` (per-weight ``sat_int8((w - z) * sm)``, int32 accumulation,
  one float16 tensor scale, one rounding).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixforge.hw.array.config import POSIT8_FIXED_LSB, ArrayConfig
from mixforge.hw.array.tiling import QuantParams

__all__ = ["decode_operands", "products", "gemm_fixed", "group_psums", "round_outputs",
           "reference_outputs", "random_quant", "float_outputs"]

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


def reference_outputs(cfg: ArrayConfig, a: NDArray[np.integer], w: NDArray[np.integer],
                      group_size: int | None = None, quant: QuantParams | None = None
                      ) -> NDArray[np.int64]:
    """What the testbench checks: per-group sums (groups, M, N); OS posit8: rounded patterns;
    float-output arrays: their float patterns (1, M, N) (``quant`` required).

    A posit8 NaR output is reported as the sum value ``-(2**62)`` (WS) so one int64 array
    carries both; the OS array reports the NaR pattern 0x80.
    """
    if cfg.float_out:
        if quant is None:
            raise ValueError(f"{cfg.name} needs quantization parameters (quant=)")
        return float_outputs(cfg, a, w, quant)
    sums, nar = group_psums(cfg, a, w, group_size)
    if cfg.pe == "posit8" and cfg.dataflow == "os":
        return round_outputs(cfg, sums, nar).astype(np.int64)
    return np.where(nar, -(1 << 62), sums)
