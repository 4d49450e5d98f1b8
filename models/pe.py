"""Bit-exact reference semantics of the PE library (``mixforge.hw.pe``).

Everything the RTL computes is defined here, and the cocotb testbenches compare against these
functions bit for bit. Values travel as unsigned bit patterns; exact intermediates are Python
``int`` (the accumulators are wider than 64 bits) or ``np.int64`` where 64 bits provably suffice.

Fixed-point convention: a pair ``(x, lsb)`` means the exact value ``x * 2**lsb``.

Readout rounding (:func:`round_fixed`), shared by every PE:

* ``float16`` / ``float32``: IEEE 754 round-to-nearest-even of the exact value, subnormals
  kept, ``|v| >= max_normal + ulp/2`` gives ±inf, an exact zero gives ``+0``.
* ``posit16_es1`` (any ``posit{n}_es{es}``): Posit Standard rounding, i.e. round to nearest on
  the (infinitely extended) encoding, ties to the even pattern; a nonzero never becomes 0 or NaR:
  magnitudes ``>= maxpos`` give maxpos, magnitudes ``< minpos`` give minpos.
* A NaN/NaR flag forces the canonical NaN: ``0x7e00`` (float16), ``0x7fc00000`` (float32),
  ``0x8000`` (posit16_es1, NaR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mixforge.errors import FormatError
from mixforge.models.exact import decode_exact, round_scaled

__all__ = [
    "FP16_LSB", "QUIRE_BITS", "QUIRE_LSB", "MODES", "MODE_LANES", "OUT_FORMATS",
    "ShiftAddArith", "shift_add_arith", "decode_value", "round_fixed", "nan_bits",
    "decode_weight", "shift_add_mul", "shift_add_pe", "mac_lane_formats", "multiformat_mac",
    "SEPARATE_ACC", "separate_macs_mac",
    "DQ_ACC_BITS", "FP16MAC_ACC_BITS", "FP16MAC_ACC_LSB", "dequant_first_pe", "fp16_mac_pe",
    "sequence_ids", "shift_add_pe_batch", "multiformat_mac_batch", "separate_macs_mac_batch",
    "dequant_first_pe_batch", "fp16_mac_pe_batch",
]

#: LSB exponent of an FP16 activation written as a fixed-point integer (the subnormal quantum).
FP16_LSB = -24
#: MultiFormatMAC accumulator: width and LSB exponent (2**-56 = minpos(posit16_es1)**2).
QUIRE_BITS = 128
QUIRE_LSB = -56
#: Run-time modes of the MultiFormatMAC, in the order of their 2-bit encoding.
MODES = ("fp4x4", "p4x4", "p8x2", "p16x1")
MODE_LANES = {"fp4x4": ("float4_e2m1fn", 4), "p4x4": ("posit4_es1", 4),
              "p8x2": ("posit8_es0", 2), "p16x1": ("posit16_es1", 1)}
OUT_FORMATS = ("float32", "float16", "posit16_es1")

_FLOAT = {"float4_e2m1fn": (2, 1, 1), "float16": (5, 10, 15), "float32": (8, 23, 127)}
_NAN = {"float16": 0x7E00, "float32": 0x7FC00000}


def _posit_params(fmt: str) -> tuple[int, int]:
    if not fmt.startswith("posit"):
        raise FormatError(f"not a posit format: {fmt!r}")
    n, es = fmt[5:].split("_es")
    return int(n), int(es)


def nan_bits(fmt: str) -> int:
    """Canonical NaN (floats) or NaR (posits) bit pattern of ``fmt``."""
    if fmt in _NAN:
        return _NAN[fmt]
    return 1 << (_posit_params(fmt)[0] - 1)


@lru_cache(maxsize=1 << 18)
def decode_value(fmt: str, bits: int) -> tuple[int, int, int]:
    """Exact decode of one pattern: ``(sig, exp, special)`` with value ``sig * 2**exp``.

    ``special`` is 0 finite, 1 NaN/NaR, 2 +inf, 3 -inf (``sig = exp = 0`` when special).
    Supports ``float4_e2m1fn``, ``float16``, ``float32`` and ``posit{n}_es{es}``. Pure, hence
    memoised (the testbenches decode the same patterns many times).
    """
    if fmt in _FLOAT:
        eb, mb, bias = _FLOAT[fmt]
        sign = (bits >> (eb + mb)) & 1
        e = (bits >> mb) & ((1 << eb) - 1)
        f = bits & ((1 << mb) - 1)
        if fmt != "float4_e2m1fn" and e == (1 << eb) - 1:
            return (0, 0, 1) if f else (0, 0, 3 if sign else 2)
        sig = f | ((e > 0) << mb)
        sig = -sig if sign else sig
        return sig, max(e, 1) - bias - mb, 0
    n, es = _posit_params(fmt)
    mask = (1 << n) - 1
    bits &= mask
    if bits == 0:
        return 0, 0, 0
    if bits == 1 << (n - 1):
        return 0, 0, 1
    sign = bits >> (n - 1)
    x = (-bits) & mask if sign else bits
    rem, width = x & ((1 << (n - 1)) - 1), n - 1
    first = (rem >> (width - 1)) & 1
    run = 0
    while run < width and ((rem >> (width - 1 - run)) & 1) == first:
        run += 1
    k = run - 1 if first else -run
    left = max(width - run - 1, 0)            # bits after the regime terminator
    tail = rem & ((1 << left) - 1)
    e_taken = min(es, left)
    e = (tail >> (left - e_taken)) << (es - e_taken)
    fbits = left - e_taken
    sig = (1 << fbits) | (tail & ((1 << fbits) - 1))
    return (-sig if sign else sig), k * (1 << es) + e - fbits, 0


def _round_shift(m: int, shift: int) -> int:
    """``m * 2**-shift`` rounded to nearest, ties to even (``m >= 0``)."""
    if shift <= 0:
        return m << -shift
    r, rem, half = m >> shift, m & ((1 << shift) - 1), 1 << (shift - 1)
    return r + (1 if rem > half or (rem == half and r & 1) else 0)


def round_fixed(fmt: str, x: int, lsb: int, nan: bool = False) -> int:
    """Round the exact value ``x * 2**lsb`` once into ``fmt`` (see the module docstring)."""
    if nan:
        return nan_bits(fmt)
    if x == 0:
        return 0
    sign, m = int(x < 0), abs(int(x))
    p = m.bit_length() - 1
    if fmt in _FLOAT:
        eb, mb, bias = _FLOAT[fmt]
        e = max(p + lsb, 1 - bias)
        r = _round_shift(m, e - mb - lsb)
        if r >> (mb + 1):
            e, r = e + 1, r >> 1
        biased = e + bias if r >> mb else 0
        if biased >= (1 << eb) - 1:
            return (sign << (eb + mb)) | (((1 << eb) - 1) << mb)
        return (sign << (eb + mb)) | (biased << mb) | (r & ((1 << mb) - 1))
    n, es = _posit_params(fmt)
    maxsc = (n - 2) << es
    sc = p + lsb
    if sc >= maxsc:
        pat = (1 << (n - 1)) - 1
    elif sc < -maxsc:
        pat = 1
    else:
        k, e = sc >> es, sc & ((1 << es) - 1)
        reg, rlen = (((1 << (k + 1)) - 1) << 1, k + 2) if k >= 0 else (1, 1 - k)
        body = (((reg << es) | e) << p) | (m - (1 << p))
        blen = rlen + es + p
        pat = _round_shift(body, blen - (n - 1))
    return (-pat) & ((1 << n) - 1) if sign else pat


# ----------------------------------------------------------------------------- ShiftAddPE


def _clog2(x: int) -> int:
    return max(int(x) - 1, 0).bit_length()


@dataclass(frozen=True)
class ShiftAddArith:
    """Datapath widths (two's complement bits) and LSB exponents of a ShiftAddPE.

    ``act_lsb`` is the LSB exponent of activations and products (0 for int8, -24 for fp16);
    ``acc_lsb = act_lsb - 24`` that of the dequantised values and of the output accumulator
    (``-24`` is the LSB of an FP16 scale). Only ``acc`` can wrap (modulo ``2**acc``), after
    ``2**16`` worst-case groups; every other width is exact by construction.
    """

    act: int        # activation as a fixed-point integer
    prod: int       # w * a
    group_sum: int  # sum of w * a over a group
    act_sum: int    # sum of a over a group (for the zero point)
    diff: int       # P = sum(w*a) - z * sum(a)
    dequant: int    # scale * P at acc_lsb
    acc: int        # output accumulator (wraps)
    act_lsb: int
    acc_lsb: int


def shift_add_arith(*, k: int, act: str, group: int) -> ShiftAddArith:
    """Widths of the ShiftAddPE datapath for ``k``-bit weights, ``act`` activations, group G."""
    a_w = 8 if act == "int8" else 16 + 24 + 1
    gb = _clog2(group)
    prod = k + a_w
    group_sum = prod + gb
    act_sum = a_w + gb
    diff = max(group_sum, act_sum + 8) + 1
    dequant = diff + 11 + 29 + 1
    lsb = 0 if act == "int8" else FP16_LSB
    return ShiftAddArith(a_w, prod, group_sum, act_sum, diff, dequant, dequant + 16, lsb,
                         lsb - 24)


def _wrap(x: int, width: int) -> int:
    x &= (1 << width) - 1
    return x - (1 << width) if x >> (width - 1) else x


def decode_weight(w: np.ndarray, *, k: int, ternary: bool = False) -> np.ndarray:
    """k-bit two's complement weight codes -> int64. Ternary (k = 2): 01 -> +1, 11 -> -1, else 0."""
    w = np.asarray(w).astype(np.int64) & ((1 << k) - 1)
    if ternary:
        return np.where(w == 1, 1, np.where(w == 3, -1, 0)).astype(np.int64)
    return np.where(w >> (k - 1) == 1, w - (1 << k), w)


def _fp16_fixed(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FP16 patterns -> (fixed-point int64 at 2**-24, non-finite mask); exact by construction."""
    a = np.asarray(a).astype(np.int64) & 0xFFFF
    e, f = (a >> 10) & 0x1F, a & 0x3FF
    sig = f | np.where(e > 0, 1024, 0)
    mag = sig << (np.maximum(e, 1) - 1)
    return np.where(a >> 15 == 1, -mag, mag), e == 31


def shift_add_mul(w: np.ndarray, a: np.ndarray, *, k: int, act: str = "int8",
                  ternary: bool = False, out: str | None = None) -> np.ndarray:
    """MixPE product of k-bit integer weights and INT8 or FP16 activations, by shifted adds.

    The product is ``sum_i w_i * (a << i)`` over the weight bits, the top bit counting
    negative (two's complement), or ``±a``/0 for ternary codes: exactly ``w * a``.

    Returns (``out=None``) the exact product as ``int64`` in units of ``2**act_lsb``
    (``act_lsb`` = 0 for int8, -24 for fp16: the FP16 significand shifted by its exponent);
    a non-finite FP16 activation raises ``FormatError``. With ``out="float16"`` (fp16 only)
    the product is rounded once to float16 (RNE, overflow to ±inf) with IEEE specials: NaN
    input or ``inf * 0`` gives ``0x7e00``, ``inf * w`` gives ±inf, and a zero product takes the
    sign ``(w < 0) xor sign(a)``.
    """
    wv = decode_weight(w, k=k, ternary=ternary)
    if act == "int8":
        av = np.asarray(a).astype(np.int64) & 0xFF
        av = np.where(av >= 128, av - 256, av)
        bad = np.zeros(av.shape, bool)
    elif act == "fp16":
        av, bad = _fp16_fixed(a)
    else:
        raise FormatError(f"act must be 'int8' or 'fp16', not {act!r}")
    wb = wv & ((1 << k) - 1)
    prod = np.zeros(np.broadcast(wv, av).shape, np.int64)
    for i in range(k):  # the shifted partial products a << i, top one subtracted
        pp = np.where((wb >> i) & 1 == 1, av << i, 0)
        prod = prod - pp if i == k - 1 and not ternary else prod + pp
    if ternary:
        prod = wv * av  # ternary: a mux of +a, -a, 0 (no shifts)
    if out is None:
        if bad.any():
            raise FormatError("non-finite FP16 activation has no exact product")
        return prod
    if out != "float16" or act != "fp16":
        raise FormatError(f"out must be None or 'float16' (fp16 only), not {out!r}")
    res = np.empty(prod.shape, np.uint16)
    a16 = np.broadcast_to(np.asarray(a).astype(np.int64) & 0xFFFF, prod.shape)
    w_b = np.broadcast_to(wv, prod.shape)
    for idx in np.ndindex(prod.shape):
        ai, wi = int(a16[idx]), int(w_b[idx])
        sgn = ((ai >> 15) ^ int(wi < 0)) << 15
        if (ai >> 10) & 0x1F == 0x1F:
            res[idx] = 0x7E00 if ai & 0x3FF or wi == 0 else sgn | 0x7C00
        elif prod[idx] == 0:
            res[idx] = sgn
        else:
            res[idx] = round_fixed("float16", int(prod[idx]), FP16_LSB)
    return res


def shift_add_pe(w: Sequence[int], a: Sequence[int], scale: Sequence[int], zero: Sequence[int],
                 *, k: int, act: str, group: int, out: str, ternary: bool = False) -> int:
    """Output pattern of one ShiftAddPE accumulation sequence (``len(w) >= 1`` elements).

    Elements are cut into groups of ``group`` consecutive products (the last may be shorter).
    For a group with products ``w_j * a_j``, the scale ``s`` (float16 pattern) and zero point
    ``z`` (int8 pattern) are those given with the group's *final* element, and the dequantised
    group value is the exact ``s * (sum(w_j a_j) - z * sum(a_j))``. Group values add exactly into
    a fixed-point accumulator (:func:`shift_add_arith`: ``acc`` bits, LSB ``2**acc_lsb``,
    wrapping), rounded once into ``out`` (``float32``/``float16``) by :func:`round_fixed` at the
    end. Any non-finite activation or scale makes the output the canonical NaN.
    """
    ar = shift_add_arith(k=k, act=act, group=group)
    wv = decode_weight(np.asarray(w), k=k, ternary=ternary)
    if act == "int8":
        av = np.asarray(a).astype(np.int64) & 0xFF
        av, bad = np.where(av >= 128, av - 256, av), np.zeros(len(av), bool)
    else:
        av, bad = _fp16_fixed(np.asarray(a))
    nan = bool(bad.any())
    acc = 0
    for start in range(0, len(wv), group):
        stop = min(start + group, len(wv))
        s_sig, s_exp, s_special = decode_value("float16", int(scale[stop - 1]) & 0xFFFF)
        nan |= s_special != 0
        z = int(zero[stop - 1]) & 0xFF
        z = z - 256 if z >= 128 else z
        p = sum(int(x) * int(y) for x, y in zip(wv[start:stop], av[start:stop], strict=True))
        p -= z * sum(int(y) for y in av[start:stop])
        acc = _wrap(acc + ((s_sig * p) << (s_exp + 24)), ar.acc)
    return round_fixed(out, acc, ar.acc_lsb, nan=nan)


# ----------------------------------------------------------------------------- MultiFormatMAC


def mac_lane_formats(mode: str) -> tuple[str, int, int]:
    """``(format, lanes, lane_bits)`` of a MultiFormatMAC mode (one of :data:`MODES`)."""
    if mode not in MODE_LANES:
        raise FormatError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    fmt, lanes = MODE_LANES[mode]
    return fmt, lanes, 16 // lanes


def multiformat_mac(modes: Sequence[str] | str, a: Sequence[int], b: Sequence[int], *,
                    out: str) -> int:
    """Output pattern of one MultiFormatMAC accumulation sequence.

    Element ``i`` splits the 16-bit words ``a[i]``, ``b[i]`` into ``lanes`` fields of
    ``16 // lanes`` bits (lane ``j`` = bits ``[j*w, (j+1)*w)``) holding numbers of the mode's
    format (:data:`MODE_LANES`; ``modes`` is one mode for the whole sequence or one per element:
    modes may change between elements). Every lane product ``a_j * b_j`` is exact and is added
    into a ``QUIRE_BITS``-bit two's complement accumulator with LSB ``2**QUIRE_LSB`` (wrapping
    modulo ``2**128``: 15 carry bits above the largest posit16_es1 product). A NaR operand in
    any lane sets a sticky NaR. At the end the accumulator is rounded once into ``out``
    (one of :data:`OUT_FORMATS`) by :func:`round_fixed`.
    """
    if out not in OUT_FORMATS:
        raise FormatError(f"out must be one of {', '.join(OUT_FORMATS)}, not {out!r}")
    acc, nan = 0, False
    for i in range(len(a)):
        mode = modes if isinstance(modes, str) else modes[i]
        fmt, lanes, lw = mac_lane_formats(mode)
        for j in range(lanes):
            sa, ea, xa = decode_value(fmt, (int(a[i]) >> (j * lw)) & ((1 << lw) - 1))
            sb, eb, xb = decode_value(fmt, (int(b[i]) >> (j * lw)) & ((1 << lw) - 1))
            nan |= bool(xa or xb)
            acc += (sa * sb) << (ea + eb - QUIRE_LSB)
        acc = _wrap(acc, QUIRE_BITS)
    return round_fixed(out, acc, QUIRE_LSB, nan=nan)


#: Separate-MACs baseline (one complete MAC per mode): each mode's own exact accumulator as
#: ``(bits, lsb)``. LSB = the square of the format's minpos; width = the fewest two's complement
#: bits that hold any sum of fewer than 2**15 elements (each element = all lanes at maxpos**2),
#: the same headroom as the quire (posit16: exactly the 128-bit quire).
SEPARATE_ACC = {"fp4x4": (26, -2), "p4x4": (34, -8), "p8x2": (41, -12),
                "p16x1": (QUIRE_BITS, QUIRE_LSB)}


def separate_macs_mac(modes: Sequence[str] | str, a: Sequence[int], b: Sequence[int], *,
                      out: str) -> int:
    """Output pattern of one accumulation sequence of the separate-MACs baseline.

    Every mode has its own MAC; element ``i`` goes to the MAC of its mode. ``last`` (the final
    element) reads out the MAC of *its* mode and clears all of them, so the result is the
    exact sum of the products of the elements whose mode equals the last element's mode, in
    that mode's accumulator (:data:`SEPARATE_ACC`, wrapping), rounded once into ``out``.
    For a sequence of one mode and fewer than 2**15 elements this equals
    :func:`multiformat_mac`.
    """
    if out not in OUT_FORMATS:
        raise FormatError(f"out must be one of {', '.join(OUT_FORMATS)}, not {out!r}")
    if len(a) == 0:
        raise FormatError("a sequence needs at least one element")
    mode_of = (lambda i: modes) if isinstance(modes, str) else (lambda i: modes[i])
    last = mode_of(len(a) - 1)
    fmt, lanes, lw = mac_lane_formats(last)
    bits, lsb = SEPARATE_ACC[last]
    acc, nan = 0, False
    for i in range(len(a)):
        if mode_of(i) != last:
            continue
        for j in range(lanes):
            sa, ea, xa = decode_value(fmt, (int(a[i]) >> (j * lw)) & ((1 << lw) - 1))
            sb, eb, xb = decode_value(fmt, (int(b[i]) >> (j * lw)) & ((1 << lw) - 1))
            nan |= bool(xa or xb)
            acc += (sa * sb) << (ea + eb - lsb)
        acc = _wrap(acc, bits)
    return round_fixed(out, acc, lsb, nan=nan)


# ----------------------------------------------------------------------------- baselines

#: Dequantize-first INT8 PE: int32 accumulator (wraps).
DQ_ACC_BITS = 32
#: Dequantize-first FP16 MAC: exact accumulator of FP16 x FP16 products (LSB 2**-48, wraps).
FP16MAC_ACC_BITS = 100
FP16MAC_ACC_LSB = -48


def _s8(x: int) -> int:
    x = int(x) & 0xFF
    return x - 256 if x >= 128 else x


def dequant_first_pe(w: Sequence[int], a: Sequence[int], sm: Sequence[int], zero: Sequence[int],
                     tscale: Sequence[int], *, k: int, out: str) -> int:
    """Output of the dequantize-first W(k)A8 baseline for one accumulation sequence.

    Per element: ``w8 = sat_int8((w - z) * sm)`` (``w`` k-bit two's complement, ``z`` int8,
    ``sm`` uint8 per-group scale multiplier), then ``acc += w8 * a`` (INT8 x INT8, int32
    wrapping). At the end ``tscale[-1] * acc`` (float16 tensor scale, exact) is rounded once
    into ``out``; a non-finite ``tscale`` gives NaN.
    """
    wv = decode_weight(np.asarray(w), k=k)
    acc = 0
    for j in range(len(wv)):
        w8 = max(-128, min(127, (int(wv[j]) - _s8(zero[j])) * (int(sm[j]) & 0xFF)))
        acc = _wrap(acc + w8 * _s8(a[j]), DQ_ACC_BITS)
    sig, exp, special = decode_value("float16", int(tscale[-1]) & 0xFFFF)
    return round_fixed(out, sig * acc, exp, nan=special != 0)


def fp16_mac_pe(w: Sequence[int], a: Sequence[int], scale: Sequence[int], zero: Sequence[int],
                *, k: int, out: str) -> int:
    """Output of the dequantize-first W(k)A16 FP16 MAC baseline for one sequence.

    Per element: ``wf = float16(s * (w - z))`` (one RNE rounding, overflow to inf; ``s``
    float16, ``z`` int8), then the exact product ``wf * a`` is added into a
    ``FP16MAC_ACC_BITS``-bit accumulator with LSB ``2**FP16MAC_ACC_LSB`` (wrapping); one
    rounding into ``out`` at the end. Any non-finite ``a``, ``s`` or ``wf`` gives NaN.
    """
    wv = decode_weight(np.asarray(w), k=k)
    acc, nan = 0, False
    for j in range(len(wv)):
        s_sig, s_exp, s_sp = decode_value("float16", int(scale[j]) & 0xFFFF)
        wf = round_fixed("float16", s_sig * (int(wv[j]) - _s8(zero[j])), s_exp)
        w_sig, w_exp, w_sp = decode_value("float16", wf)
        a_sig, a_exp, a_sp = decode_value("float16", int(a[j]) & 0xFFFF)
        nan |= bool(s_sp or w_sp or a_sp)
        acc = _wrap(acc + ((w_sig * a_sig) << (w_exp + a_exp - FP16MAC_ACC_LSB)),
                    FP16MAC_ACC_BITS)
    return round_fixed(out, acc, FP16MAC_ACC_LSB, nan=nan)


# ----------------------------------------------------------------------------- batch forms
#
# Vectorised equivalents of the scalar functions above, for many accumulation sequences at
# once (the testbenches compute 10**5 expectations per run). Items of all sequences are
# concatenated; ``last[i]`` is true on the final element of each sequence (``None``: every item
# is a sequence of its own). The result holds one output pattern per sequence, in order, and
# equals the scalar function applied to each sequence: tests/models/test_pe_vectorised.py checks
# that bit for bit (exhaustively for every <= 8-bit operand pair, and on random sequences). The
# scalar functions remain the definition.

_I64 = np.int64


def sequence_ids(last: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """Sequence index of each of ``n`` items, and the number of sequences.

    ``last`` marks the final item of every sequence (``None``: every item ends one); the final
    item must end a sequence.
    """
    if last is None:
        return np.arange(n, dtype=_I64), n
    lb = np.asarray(last).astype(bool)
    if len(lb) != n:
        raise FormatError(f"last has {len(lb)} flags for {n} items")
    if n == 0 or not lb[-1]:
        raise FormatError("the final item must end a sequence (last[-1] true)")
    seq = np.zeros(n, _I64)
    seq[1:] = np.cumsum(lb[:-1])
    return seq, int(lb.sum())


def _bitlen_bound(x: np.ndarray) -> np.ndarray:
    """An upper bound (exact below 2**53) of the bit length of ``|x|`` (int64, 0 for 0)."""
    return np.frexp(np.abs(x).astype(np.float64))[1].astype(_I64)


def _round_sums(out: str, sig: np.ndarray, exp: np.ndarray, seq: np.ndarray, n_seq: int,
                nan: np.ndarray, bits: int | np.ndarray, lsb: int | np.ndarray) -> np.ndarray:
    """Per sequence ``s``: the exact sum of ``sig[t] * 2**exp[t]`` over the terms with
    ``seq[t] == s``, wrapped into a ``bits``-bit two's complement accumulator with LSB
    ``2**lsb`` (per sequence or scalar; every nonzero term has ``exp >= lsb``), rounded once into
    ``out`` (:func:`round_fixed`); ``nan[s]`` gives the canonical NaN.

    Sequences whose terms span at most 62 bits and cannot reach the wrap-around are summed in
    int64 (aligned to their smallest term) and rounded vectorised; any other sequence is summed
    exactly in Python ints and rounded by :func:`round_fixed` itself.
    """
    sig = np.asarray(sig, _I64)
    exp = np.asarray(exp, _I64)
    seq = np.asarray(seq, _I64)
    bits_s = np.broadcast_to(np.asarray(bits, _I64), (n_seq,))
    lsb_s = np.broadcast_to(np.asarray(lsb, _I64), (n_seq,))
    if len(seq) > 1 and (seq[1:] < seq[:-1]).any():  # group the terms by sequence
        order = np.argsort(seq, kind="stable")
        sig, exp, seq = sig[order], exp[order], seq[order]
    cnt = np.bincount(seq, minlength=n_seq)
    ne = cnt > 0
    starts = (np.cumsum(cnt) - cnt)[ne]
    nz = sig != 0
    if (exp[nz] < lsb_s[seq[nz]]).any():
        raise FormatError("a term below the accumulator LSB")
    big = 1 << 40
    top = np.full(n_seq, -big, _I64)
    low = np.full(n_seq, big, _I64)
    if len(starts):
        top[ne] = np.maximum.reduceat(np.where(nz, exp + _bitlen_bound(sig), -big), starts)
        low[ne] = np.minimum.reduceat(np.where(nz, exp, big), starts)
    lg = np.frexp(cnt.astype(np.float64))[1].astype(_I64)
    empty = top == -big
    fast = empty | ((top - low + lg <= 62) & (top + lg <= bits_s - 1 + lsb_s))
    align = np.where(empty, 0, low)
    tf = nz & fast[seq]
    sums = np.zeros(n_seq, _I64)
    if len(starts):
        sums[ne] = np.add.reduceat(np.where(tf, sig, 0) << np.where(tf, exp - align[seq], 0),
                                   starts)
    res = np.zeros(n_seq, np.uint64)
    res[fast] = round_scaled(out, sums[fast], align[fast]).astype(np.uint64)
    slow = np.flatnonzero(~fast)
    if len(slow):
        cuts = np.r_[0, np.cumsum(cnt)]
        for s in slow.tolist():
            sel = slice(int(cuts[s]), int(cuts[s + 1]))
            lo = int(lsb_s[s])
            acc = sum(x << (e - lo) for x, e in zip(sig[sel].tolist(), exp[sel].tolist(),
                                                    strict=True) if x)
            res[s] = round_fixed(out, _wrap(acc, int(bits_s[s])), lo)
    res[np.asarray(nan, bool)] = nan_bits(out)
    return res


def _any_per_seq(flag: np.ndarray, seq: np.ndarray, n_seq: int) -> np.ndarray:
    return np.bincount(seq, weights=np.asarray(flag, bool).astype(np.float64),
                       minlength=n_seq) > 0


def _s8v(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x).astype(_I64) & 0xFF
    return np.where(x >= 128, x - 256, x)


def shift_add_pe_batch(w: np.ndarray, a: np.ndarray, scale: np.ndarray, zero: np.ndarray,
                       last: np.ndarray | None = None, *, k: int, act: str, group: int,
                       out: str, ternary: bool = False) -> np.ndarray:
    """:func:`shift_add_pe` of every sequence (see "batch forms" above); uint64 patterns."""
    ar = shift_add_arith(k=k, act=act, group=group)
    wv = decode_weight(np.asarray(w), k=k, ternary=ternary)
    n = len(wv)
    if act == "int8":
        av, bad = _s8v(a), np.zeros(n, bool)
    elif act == "fp16":
        av, bad = _fp16_fixed(np.asarray(a))
    else:
        raise FormatError(f"act must be 'int8' or 'fp16', not {act!r}")
    seq, n_seq = sequence_ids(last, n)
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    g0 = np.flatnonzero(pos % group == 0)              # first item of every group
    g1 = np.r_[g0[1:], n] - 1                          # its final item (scale, zero point)
    # P = sum(w a) - z sum(a): exact in int64 (shift_add_arith: diff <= 62 bits)
    p = np.add.reduceat(wv * av, g0) - _s8v(np.asarray(zero)[g1]) * np.add.reduceat(av, g0)
    s_sig, s_exp, s_sp = decode_exact("float16", np.asarray(scale).astype(np.int64)[g1] & 0xFFFF)
    # s * P as two int64 terms (|s_sig| <= 2**11): P = hi * 2**31 + lo
    hi, lo = p >> 31, p & ((1 << 31) - 1)
    e = s_exp + ar.act_lsb
    gseq = seq[g1]
    nan = _any_per_seq(bad, seq, n_seq) | _any_per_seq(s_sp != 0, gseq, n_seq)
    return _round_sums(out, np.stack([s_sig * lo, s_sig * hi], 1).ravel(),
                       np.stack([e, e + 31], 1).ravel(), np.repeat(gseq, 2), n_seq, nan, ar.acc,
                       ar.acc_lsb)


def _mac_terms(modes: np.ndarray, a: np.ndarray, b: np.ndarray, keep: np.ndarray | None,
               seq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                         np.ndarray]:
    """Exact lane products ``(sig, exp, seq, nan_flag_per_item_seq)`` of MultiFormatMAC items."""
    mo = np.asarray(modes).astype(_I64)
    if len(mo) and (mo.min() < 0 or mo.max() >= len(MODES)):
        raise FormatError(f"mode codes must be in 0..{len(MODES) - 1}")
    av, bv = np.asarray(a).astype(_I64), np.asarray(b).astype(_I64)
    sigs, exps, seqs, nseqs = [], [], [], []
    for m in np.flatnonzero(np.bincount(mo, minlength=len(MODES))).tolist():
        fmt, lanes, lw = mac_lane_formats(MODES[m])
        sel = mo == m if keep is None else (mo == m) & keep
        mask = (1 << lw) - 1
        for j in range(lanes):
            sa, ea, xa = decode_exact(fmt, (av[sel] >> (j * lw)) & mask)
            sb, eb, xb = decode_exact(fmt, (bv[sel] >> (j * lw)) & mask)
            sigs.append(sa * sb)
            exps.append(ea + eb)
            seqs.append(seq[sel])
            nseqs.append(seq[sel][(xa != 0) | (xb != 0)])
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, _I64))  # noqa: E731
    return cat(sigs), cat(exps), cat(seqs), cat(nseqs), mo


def multiformat_mac_batch(modes: np.ndarray, a: np.ndarray, b: np.ndarray,
                          last: np.ndarray | None = None, *, out: str) -> np.ndarray:
    """:func:`multiformat_mac` of every sequence; ``modes`` are codes (index into
    :data:`MODES`), one per item. uint64 patterns."""
    if out not in OUT_FORMATS:
        raise FormatError(f"out must be one of {', '.join(OUT_FORMATS)}, not {out!r}")
    seq, n_seq = sequence_ids(last, len(np.asarray(a)))
    sig, exp, tseq, nseq, _ = _mac_terms(modes, a, b, None, seq)
    nan = np.bincount(nseq, minlength=n_seq) > 0
    return _round_sums(out, sig, exp, tseq, n_seq, nan, QUIRE_BITS, QUIRE_LSB)


def separate_macs_mac_batch(modes: np.ndarray, a: np.ndarray, b: np.ndarray,
                            last: np.ndarray | None = None, *, out: str) -> np.ndarray:
    """:func:`separate_macs_mac` of every sequence (codes as in
    :func:`multiformat_mac_batch`). uint64 patterns."""
    if out not in OUT_FORMATS:
        raise FormatError(f"out must be one of {', '.join(OUT_FORMATS)}, not {out!r}")
    mo = np.asarray(modes).astype(_I64)
    seq, n_seq = sequence_ids(last, len(mo))
    ends = np.r_[np.flatnonzero(seq[1:] != seq[:-1]), len(mo) - 1]
    last_mode = mo[ends]
    sig, exp, tseq, nseq, _ = _mac_terms(mo, a, b, mo == last_mode[seq], seq)
    nan = np.bincount(nseq, minlength=n_seq) > 0
    acc = np.array([SEPARATE_ACC[m] for m in MODES], _I64)
    return _round_sums(out, sig, exp, tseq, n_seq, nan, acc[last_mode, 0], acc[last_mode, 1])


def dequant_first_pe_batch(w: np.ndarray, a: np.ndarray, sm: np.ndarray, zero: np.ndarray,
                           tscale: np.ndarray, last: np.ndarray | None = None, *, k: int,
                           out: str) -> np.ndarray:
    """:func:`dequant_first_pe` of every sequence. uint64 patterns."""
    wv = decode_weight(np.asarray(w), k=k)
    seq, n_seq = sequence_ids(last, len(wv))
    w8 = np.clip((wv - _s8v(zero)) * (np.asarray(sm).astype(_I64) & 0xFF), -128, 127)
    acc = np.zeros(n_seq, _I64)  # |w8 * a| <= 2**14: int64 never overflows before the wrap
    np.add.at(acc, seq, w8 * _s8v(a))
    m = (1 << DQ_ACC_BITS) - 1
    acc &= m
    acc = np.where(acc >> (DQ_ACC_BITS - 1) == 1, acc - (1 << DQ_ACC_BITS), acc)
    ends = np.r_[np.flatnonzero(seq[1:] != seq[:-1]), len(wv) - 1]
    sig, exp, sp = decode_exact("float16", np.asarray(tscale).astype(_I64)[ends] & 0xFFFF)
    res = round_scaled(out, sig * acc, exp).astype(np.uint64)  # |sig * acc| < 2**42: exact
    res[sp != 0] = nan_bits(out)
    return res


def fp16_mac_pe_batch(w: np.ndarray, a: np.ndarray, scale: np.ndarray, zero: np.ndarray,
                      last: np.ndarray | None = None, *, k: int, out: str) -> np.ndarray:
    """:func:`fp16_mac_pe` of every sequence. uint64 patterns."""
    wv = decode_weight(np.asarray(w), k=k)
    seq, n_seq = sequence_ids(last, len(wv))
    s_sig, s_exp, s_sp = decode_exact("float16", np.asarray(scale).astype(_I64) & 0xFFFF)
    wf = round_scaled("float16", s_sig * (wv - _s8v(zero)), s_exp)  # one RNE rounding
    w_sig, w_exp, w_sp = decode_exact("float16", wf)
    a_sig, a_exp, a_sp = decode_exact("float16", np.asarray(a).astype(_I64) & 0xFFFF)
    nan = _any_per_seq((s_sp != 0) | (w_sp != 0) | (a_sp != 0), seq, n_seq)
    return _round_sums(out, w_sig * a_sig, w_exp + a_exp, seq, n_seq, nan, FP16MAC_ACC_BITS,
                       FP16MAC_ACC_LSB)
