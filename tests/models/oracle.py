"""Independent slow scalar oracle for mixforge.models, built on ``fractions.Fraction``.

Written separately from the vectorised code and importing nothing from ``mixforge.models``:
formats are parsed here from their names, bit patterns are decoded by reading binary strings,
and rounding picks between the two enumerated neighbours of the exact value (for formats of
<= 16 bits), using the Posit Standard 2022 midpoint rule ((n+1)-bit posit between them) for
posits and IEEE 754 rules (unbounded exponent, then overflow) for floats.

Values are ``Fraction`` or one of the strings ``"nan"``, ``"+inf"``, ``"-inf"``.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

Value = Fraction | str

# name: (exponent bits, mantissa bits, bias, special style, default overflow)
_FLOATS = {
    "float4_e2m1fn": (2, 1, 1, "none", "saturate"),
    "float6_e2m3fn": (2, 3, 1, "none", "saturate"),
    "float6_e3m2fn": (3, 2, 3, "none", "saturate"),
    "float8_e4m3fn": (4, 3, 7, "one_nan", "to_nan"),
    "float8_e5m2": (5, 2, 15, "ieee", "to_inf"),
    "float16": (5, 10, 15, "ieee", "to_inf"),
    "bfloat16": (8, 7, 127, "ieee", "to_inf"),
    "float32": (8, 23, 127, "ieee", "to_inf"),
}


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str  # "int", "uint", "float", "posit"
    n: int
    ebits: int = 0
    mbits: int = 0
    bias: int = 0
    style: str = ""
    es: int = 0
    overflow: str = "wrap"


@cache
def spec(name: str) -> Spec:
    if name in _FLOATS:
        e, m, b, style, ovf = _FLOATS[name]
        return Spec(name, "float", 1 + e + m, e, m, b, style, overflow=ovf)
    mo = re.fullmatch(r"posit(\d+)_es(\d+)", name)
    if mo:
        return Spec(name, "posit", int(mo[1]), es=int(mo[2]), overflow="saturate")
    mo = re.fullmatch(r"(u?)int(\d+)", name)
    if mo:
        return Spec(name, "uint" if mo[1] else "int", int(mo[2]), overflow="wrap")
    raise ValueError(name)


@cache
def decode(name: str, bits: int) -> Value:
    s = spec(name)
    text = format(bits, f"0{s.n}b")
    if len(text) != s.n:
        raise ValueError(f"pattern {bits:#x} too wide for {name}")
    if s.kind == "uint":
        return Fraction(bits)
    if s.kind == "int":
        return Fraction(bits - (1 << s.n) if text[0] == "1" else bits)
    if s.kind == "posit":
        return _decode_posit(s.n, s.es, bits)
    sign = -1 if text[0] == "1" else 1
    e_str, m_str = text[1:1 + s.ebits], text[1 + s.ebits:]
    e, m = int(e_str, 2), int(m_str, 2) if m_str else 0
    if s.style == "ieee" and e_str == "1" * s.ebits:
        return "nan" if m else ("-inf" if sign < 0 else "+inf")
    if s.style == "one_nan" and text[1:] == "1" * (s.n - 1):
        return "nan"
    if e == 0:
        mag = _dyadic(m, 1 - s.bias - s.mbits)
    else:
        mag = _dyadic(m + (1 << s.mbits), e - s.bias - s.mbits)
    return sign * mag


def _dyadic(num: int, exp: int) -> Fraction:
    """``num * 2**exp`` as a Fraction."""
    return Fraction(num << exp) if exp >= 0 else Fraction(num, 1 << -exp)


@cache
def _decode_posit(n: int, es: int, bits: int) -> Value:
    if bits == 0:
        return Fraction(0)
    if bits == 1 << (n - 1):
        return "nan"
    negative = bits >> (n - 1) == 1
    if negative:
        bits = (1 << n) - bits
    body = format(bits, f"0{n}b")[1:]
    lead = body[0]
    run = len(body) - len(body.lstrip(lead))
    k = run - 1 if lead == "1" else -run
    rest = body[run + 1:]
    e_str = (rest[:es] + "0" * es)[:es]
    f_str = rest[es:]
    scale = k * 2**es + (int(e_str, 2) if es else 0)
    # 1.f_str as the integer 1f_str over 2**len(f_str), times 2**scale
    val = _dyadic(int("1" + f_str, 2), scale - len(f_str))
    return -val if negative else val


def is_negative_zero(name: str, bits: int) -> bool:
    s = spec(name)
    return s.kind == "float" and bits == 1 << (s.n - 1)


@cache
def _positives(name: str) -> tuple[list[Fraction], list[int], list[int], int]:
    """Sorted positive finite values of a <= 16-bit format, their codes, integer keys, shift.

    ``key = value * 2**shift`` (exact): bisecting Python ints is much faster than Fractions.
    """
    s = spec(name)
    if s.n > 16:
        raise ValueError(f"the oracle enumerates formats of <= 16 bits, not {name}")
    pairs = []
    for code in range(1 << s.n):
        v = decode(name, code)
        if not isinstance(v, str) and v > 0:
            pairs.append((v, code))
    pairs.sort()
    shift = 2 * max(p[0].denominator.bit_length() for p in pairs) + 8
    keys = [p[0].numerator * (1 << shift) // p[0].denominator for p in pairs]
    return [p[0] for p in pairs], [p[1] for p in pairs], keys, shift


def _key(a: Fraction, shift: int) -> int | None:
    """``a * 2**shift`` if that is an integer, else None."""
    num = a.numerator << shift
    return num // a.denominator if num % a.denominator == 0 else None


def _neighbours(name: str, a: Fraction) -> tuple[int, bool]:
    """Index i with vals[i-1] < a <= vals[i] (i may be len), and whether vals[i] == a."""
    vals, _, keys, shift = _positives(name)
    k = _key(a, shift)
    if k is None:
        i = bisect.bisect_left(vals, a)
        return i, i < len(vals) and vals[i] == a
    i = bisect.bisect_left(keys, k)
    return i, i < len(keys) and keys[i] == k


def _choose(cmp: int, lo: int, hi: int, negative: bool, rounding: str) -> int:
    """Pick code lo or hi (lo < |x| < hi in magnitude); ``cmp`` is sign(|x| - midpoint)."""
    if rounding == "near_even":
        if cmp:
            return lo if cmp < 0 else hi
        return lo if lo % 2 == 0 else hi
    if rounding == "near_maxMag":
        return lo if cmp < 0 else hi
    if rounding == "minMag":
        return lo
    if rounding == "min":
        return hi if negative else lo
    if rounding == "max":
        return lo if negative else hi
    raise ValueError(rounding)


def _cmp(x: Fraction | int, y: Fraction | int) -> int:
    return (x > y) - (x < y)


def _nan_code(s: Spec) -> int:
    if s.style == "one_nan":
        return (1 << (s.n - 1)) - 1
    if s.style == "ieee":
        return ((1 << s.ebits) - 1) << s.mbits | (1 << (s.mbits - 1))
    raise ValueError(f"{s.name} has no NaN")


def _inf_code(s: Spec) -> int:
    return ((1 << s.ebits) - 1) << s.mbits


def encode(name: str, v: Value, rounding: str = "near_even", overflow: str | None = None,
           negative_zero: bool = False) -> int:
    """Round ``v`` into format ``name``; ``negative_zero`` asks for -0 when v == 0 (floats)."""
    s = spec(name)
    overflow = overflow or s.overflow
    sign_bit = 1 << (s.n - 1)
    if s.kind in ("int", "uint"):
        return _encode_int(s, v, rounding, overflow)
    if s.kind == "posit":
        if isinstance(v, str):
            return sign_bit
        return _encode_posit(s, v, rounding)
    if s.n > 16:
        return _encode_float_wide(s, v, rounding, overflow, negative_zero)
    vals, codes, keys, shift = _positives(name)
    if isinstance(v, str) and v == "nan":
        return _nan_code(s)
    if isinstance(v, str):
        neg = v == "-inf"
        mag = {"to_inf": _inf_code(s) if s.style == "ieee" else None,
               "to_nan": _nan_code(s) if s.style != "none" else None,
               "saturate": codes[-1]}[overflow]
        if mag is None:
            raise ValueError(f"policy {overflow} impossible for {name}")
        return mag | (sign_bit if neg else 0)
    neg = v < 0 or (v == 0 and negative_zero)
    a = abs(v)
    if a == 0:
        return sign_bit if neg else 0
    i, hit = _neighbours(name, a)
    if hit:
        code = codes[i]
    else:
        lo = (vals[i - 1], codes[i - 1], keys[i - 1]) if i > 0 else (Fraction(0), 0, 0)
        virtual = i == len(vals)
        if virtual:  # beyond max: the next point with an unbounded exponent
            hi = (vals[-1] + (vals[-1] - vals[-2]), codes[-1] + 1, 2 * keys[-1] - keys[-2])
        else:
            hi = (vals[i], codes[i], keys[i])
        k = _key(a, shift)  # compare 2|x| with lo + hi as integers when possible
        cmp = _cmp(2 * k, lo[2] + hi[2]) if k is not None else _cmp(a, (lo[0] + hi[0]) / 2)
        code = _choose(cmp, lo[1], hi[1], neg, rounding)
        if virtual and code == hi[1]:
            if overflow == "saturate":
                code = codes[-1]
            elif overflow == "to_inf":
                code = _inf_code(s)
            else:
                code = _nan_code(s)
    return code | (sign_bit if neg else 0)


def _round_int(v: Fraction, rounding: str) -> int:
    """Round a rational to an integer in a TestFloat mode."""
    fl = math.floor(v)
    frac = v - fl
    if frac == 0:
        return fl
    half = Fraction(1, 2)
    if rounding == "near_even":
        return fl + 1 if frac > half or (frac == half and fl % 2) else fl
    if rounding == "near_maxMag":
        return fl + 1 if frac > half or (frac == half and v > 0) else fl
    if rounding == "minMag":
        return fl + 1 if v < 0 else fl
    return fl if rounding == "min" else fl + 1


def _encode_float_wide(s: Spec, v: Value, rounding: str, overflow: str,
                       negative_zero: bool) -> int:
    """Constructive IEEE rounding for floats too wide to enumerate (float32)."""
    sign_bit = 1 << (s.n - 1)
    if isinstance(v, str):
        if v == "nan":
            return _nan_code(s)
        return _inf_code(s) | (sign_bit if v == "-inf" else 0)
    neg = v < 0 or (v == 0 and negative_zero)
    if v == 0:
        return sign_bit if neg else 0
    emin, emax = 1 - s.bias, (1 << s.ebits) - 2 - s.bias
    e = v.numerator.bit_length() - v.denominator.bit_length()
    while abs(v) >= Fraction(2) ** (e + 1):
        e += 1
    while abs(v) < Fraction(2) ** e:
        e -= 1
    q = max(e, emin) - s.mbits  # quantum of the binade (or of the subnormals)
    r = abs(_round_int(v / Fraction(2) ** q, rounding))
    mag = r * Fraction(2) ** q
    if mag > (2 - Fraction(1, 2**s.mbits)) * Fraction(2) ** emax:
        away = rounding in ("near_even", "near_maxMag") or (rounding == "min") == neg and (
            rounding in ("min", "max"))
        largest = _inf_code(s) - 1
        code = largest if overflow == "saturate" or not away else (
            _inf_code(s) if overflow == "to_inf" else _nan_code(s))
    elif mag == 0:
        code = 0
    else:
        be = max(e, emin)
        if r >= 1 << (s.mbits + 1):  # rounding carried into the next binade
            r, be = r >> 1, be + 1
        code = r if r < (1 << s.mbits) else ((be - emin + 1) << s.mbits) | (r - (1 << s.mbits))
    return code | (sign_bit if neg else 0)


def _encode_posit(s: Spec, v: Fraction, rounding: str) -> int:
    if v == 0:
        return 0
    vals, codes, keys, shift = _positives(s.name)
    neg, a = v < 0, abs(v)
    k = _key(a, shift)
    if k is None:  # finer than any key: compare as Fractions (values/midpoints are keys)
        k, mult = a.numerator << shift, a.denominator
    else:
        mult = 1
    if k >= keys[-1] * mult:
        code = codes[-1]
    elif k <= keys[0] * mult:
        code = codes[0]
    else:
        i, hit = _neighbours(s.name, a)
        if hit:
            code = codes[i]
        else:
            mid = _decode_posit(s.n + 1, s.es, (codes[i - 1] << 1) | 1)
            assert not isinstance(mid, str)
            km = _key(mid, shift)
            cmp = _cmp(k, km * mult) if km is not None else _cmp(a, mid)
            code = _choose(cmp, codes[i - 1], codes[i], neg, rounding)
    return ((1 << s.n) - code) % (1 << s.n) if neg else code


def _encode_int(s: Spec, v: Value, rounding: str, overflow: str) -> int:
    if isinstance(v, str):
        raise ValueError(f"{v} has no integer encoding")
    fl = math.floor(v)
    frac = v - fl
    if frac == 0:
        r = fl
    elif rounding == "near_even":
        r = fl + 1 if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2) else fl
    elif rounding == "near_maxMag":
        r = fl + 1 if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and v > 0) else fl
    elif rounding == "minMag":
        r = fl + 1 if v < 0 else fl
    elif rounding == "min":
        r = fl
    else:
        r = fl + 1
    lo, hi = (-(1 << (s.n - 1)), (1 << (s.n - 1)) - 1) if s.kind == "int" else (0, (1 << s.n) - 1)
    if overflow == "saturate":
        r = min(max(r, lo), hi)
    return r % (1 << s.n)


# ---------------------------------------------------------------- operations (IEEE / posit)
def _is_inf(v: Value) -> bool:
    return isinstance(v, str) and v in ("+inf", "-inf")


def _is_nan(*vs: Value | None) -> bool:
    # (comparing Fractions with strings is slow: test the type first)
    return any(isinstance(v, str) and v == "nan" for v in vs)


def _is_zero(v: Value) -> bool:
    return not isinstance(v, str) and v == 0


def _neg(name: str, bits: int, v: Value) -> bool:
    """Sign of an operand (sign bit for floats, so -0 counts as negative)."""
    s = spec(name)
    if s.kind == "float":
        return bits >> (s.n - 1) == 1
    return not isinstance(v, str) and v < 0


def mul(name: str, a: int, b: int, rounding: str = "near_even",
        overflow: str | None = None) -> int:
    va, vb = decode(name, a), decode(name, b)
    return _product_then(name, va, vb, _neg(name, a, va) != _neg(name, b, vb), None, rounding,
                         overflow)


def fma(name: str, a: int, b: int, c: int, rounding: str = "near_even",
        overflow: str | None = None) -> int:
    va, vb = decode(name, a), decode(name, b)
    vc = decode(name, c)
    return _product_then(name, va, vb, _neg(name, a, va) != _neg(name, b, vb),
                         (vc, _neg(name, c, vc)), rounding, overflow)


def add(name: str, a: int, b: int, rounding: str = "near_even",
        overflow: str | None = None) -> int:
    va, vb = decode(name, a), decode(name, b)
    return _sum(name, va, _neg(name, a, va), vb, _neg(name, b, vb), rounding, overflow)


def _product_then(name: str, va: Value, vb: Value, pneg: bool, addend: tuple[Value, bool] | None,
                  rounding: str, overflow: str | None) -> int:
    s = spec(name)
    if s.kind == "posit" and _is_nan(va, vb, addend[0] if addend else None):
        return 1 << (s.n - 1)
    p: Value
    if _is_nan(va, vb):
        p = "nan"
    elif _is_inf(va) or _is_inf(vb):
        p = "nan" if _is_zero(va) or _is_zero(vb) else ("-inf" if pneg else "+inf")
    else:
        assert not isinstance(va, str) and not isinstance(vb, str)
        p = va * vb
    if addend is None:
        if isinstance(p, str):
            return _special_code(s, p)
        return encode(name, p, rounding, overflow, negative_zero=pneg)
    return _sum(name, p, pneg, addend[0], addend[1], rounding, overflow)


def _special_code(s: Spec, v: str) -> int:
    if isinstance(v, str) and v == "nan":
        return _nan_code(s)
    return _inf_code(s) | ((1 << (s.n - 1)) if v == "-inf" else 0)


def _sum(name: str, va: Value, na: bool, vb: Value, nb: bool, rounding: str,
         overflow: str | None) -> int:
    s = spec(name)
    if s.kind == "posit" and _is_nan(va, vb):
        return 1 << (s.n - 1)
    if _is_nan(va, vb) or (_is_inf(va) and _is_inf(vb) and va != vb):
        return _special_code(s, "nan")
    if _is_inf(va) or _is_inf(vb):
        return _special_code(s, str(va if _is_inf(va) else vb))
    assert not isinstance(va, str) and not isinstance(vb, str)
    total = va + vb
    neg_zero = False
    if total == 0:
        both_zero = va == 0 and vb == 0
        neg_zero = (both_zero and na and nb) or (
            rounding == "min" and not (both_zero and not na and not nb))
    return encode(name, total, rounding, overflow, negative_zero=neg_zero)


def convert(src: str, dst: str, bits: int, rounding: str = "near_even",
            overflow: str | None = None) -> int:
    v = decode(src, bits)
    d = spec(dst)
    if _is_nan(v) and d.kind == "float":
        return _nan_code(d) | (bits >> (spec(src).n - 1) << (d.n - 1)
                               if spec(src).kind == "float" else 0)
    return encode(dst, v, rounding, overflow, negative_zero=is_negative_zero(src, bits))


def dot(name: str, a: list[int], b: list[int], out: str | None = None,
        rounding: str = "near_even") -> int:
    """Exact sum of products (a quire), rounded once into ``out`` (default ``name``)."""
    total = Fraction(0)
    for x, y in zip(a, b, strict=True):
        vx, vy = decode(name, x), decode(name, y)
        if isinstance(vx, str) or isinstance(vy, str):
            return encode(out or name, "nan")
        total += vx * vy
    return encode(out or name, total, rounding)
