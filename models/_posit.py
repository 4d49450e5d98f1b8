"""Private posit kernels (Posit Standard 2022, general es): exact decode and one rounding."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from mixforge.models._common import I64, U64, bitlen, increment
from mixforge.models.formats import NumberFormat

__all__: list[str] = []

_ONE = np.uint64(1)
#: Fraction bits kept before the posit cut; wider than any posit fraction (n <= 32), so the cut
#: always drops >= 3 bits and the sticky bit folded into the LSB stays below the guard bit.
_W = 32


def decode_exact(fmt: NumberFormat, u: U64) -> tuple[I64, I64, NDArray[np.uint8]]:
    n, es = fmt.bits, fmt.es
    sign = (u >> np.uint64(n - 1)) & _ONE
    body = np.where(sign == 1, (np.uint64(1 << n) - u) & np.uint64(fmt.mask), u)
    body = body & np.uint64((1 << (n - 1)) - 1)
    first = (body >> np.uint64(n - 2)) & _ONE if n >= 2 else body
    # Run length of the regime: count leading copies of ``first`` in the (n-1)-bit body.
    inv = np.where(first == 1, ~body & np.uint64((1 << (n - 1)) - 1), body)
    run = (n - 1) - bitlen(inv)
    k = np.where(first == 1, run - 1, -run)
    rem_len = np.maximum(n - 2 - run, 0)  # bits after the regime terminator
    rest = body & ((_ONE << rem_len.astype(np.uint64)) - _ONE)
    f_len = np.maximum(rem_len - es, 0)
    e_avail = rem_len - f_len  # exponent bits present (missing ones are 0)
    e = (rest >> f_len.astype(np.uint64)) << (es - e_avail).astype(np.uint64)
    frac = rest & ((_ONE << f_len.astype(np.uint64)) - _ONE)
    sig = ((_ONE << f_len.astype(np.uint64)) | frac).astype(np.int64)
    exp = k * (1 << es) + e.astype(np.int64) - f_len
    sig = np.where(sign == 1, -sig, sig)
    special = np.zeros(u.shape, dtype=np.uint8)
    zero = u == 0
    nar = u == np.uint64(1 << (n - 1))
    sig = np.where(zero | nar, 0, sig)
    exp = np.where(zero | nar, 0, exp)
    special[nar] = 1
    return sig.astype(np.int64), exp.astype(np.int64), special


def round_mag(fmt: NumberFormat, mag: U64, exp: I64, neg: NDArray[np.bool_],
              rounding: str) -> U64:
    """Encode nonzero magnitudes ``mag * 2**exp`` (sign ``neg``); never 0 or NaR."""
    n, es = fmt.bits, fmt.es
    top = (n - 2) << es  # scale of maxpos; minpos has scale -top
    L = bitlen(mag)
    E = exp + L - 1
    Ec = np.clip(E, -top, max(top - 1, -top))
    k = Ec >> es
    e = (Ec & ((1 << es) - 1)).astype(np.uint64)
    f_len = L - 1
    frac = mag - (_ONE << f_len.astype(np.uint64))
    up = np.clip(_W - f_len, 0, 63).astype(np.uint64)
    dn = np.clip(f_len - _W, 0, 63).astype(np.uint64)
    lost = (frac & ((_ONE << dn) - _ONE)) != 0
    frac_w = ((frac >> dn) << up) | lost.astype(np.uint64)
    tail = (e << np.uint64(_W)) | frac_w
    R = np.where(k >= 0, k + 2, 1 - k)
    keep = np.clip(n - 1 - R, 0, 62)
    dropped = (es + _W - keep).astype(np.uint64)
    regime = np.where(k >= 0, ((_ONE << np.clip(k + 1, 0, 62).astype(np.uint64)) - _ONE) << _ONE,
                      _ONE)
    kept = (regime << keep.astype(np.uint64)) | (tail >> dropped)
    rem = tail & ((_ONE << dropped) - _ONE)
    half = _ONE << (dropped - _ONE)
    body = kept + increment(kept, rem, half, neg, rounding)
    maxpos = np.uint64((1 << (n - 1)) - 1)
    body = np.minimum(body, maxpos)
    body = np.where(E >= top, maxpos, body)
    body = np.where(E < -top, _ONE, body)
    return np.where(neg, (np.uint64(1 << n) - body) & np.uint64(fmt.mask), body)
