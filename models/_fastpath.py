"""Private table-driven fast paths for posits of <= 16 bits (same results as the exact path).

A float64 rounds into a posit according to: its sign, its scale clipped to
``[-top-1, top]`` (beyond which it saturates to minpos/maxpos), the top ``fmax + 1`` fraction
bits and whether any lower bit is set (sticky). Every rounding boundary of posit(n, es) -- each
posit and each (n+1)-bit midpoint -- has at most ``fmax + 1 = n - 2 - es`` fraction bits, so two
inputs sharing those fields lie in the same interval between boundaries (or on the same
boundary) and round alike. The table entry is computed by ``round_scaled`` on a representative.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from mixforge.models.exact import round_scaled
from mixforge.models.formats import NumberFormat

__all__: list[str] = []

_CHUNK = 1 << 16
_U = np.uint64


def posit_table_ok(f: NumberFormat) -> bool:
    return f.kind == "posit" and f.bits <= 16


def _layout(f: NumberFormat) -> tuple[int, int, int]:
    """(top scale, kept fraction bits, exponent-slot bits).

    Slots: 0 .. 2*top+1 for the clipped scale ``E + top + 1``, then one slot for float64 zero
    and subnormals (ef == 0) and one for NaN/inf (ef == 0x7FF).
    """
    top = (f.bits - 2) << f.es
    fbits = max(f.bits - 2 - f.es, 0)  # fraction bits kept (fmax + 1)
    ebits = int(2 * top + 3).bit_length()
    return top, fbits, ebits


@lru_cache(maxsize=32)
def _table(f: NumberFormat, rounding: str) -> NDArray[np.unsignedinteger]:
    top, fbits, ebits = _layout(f)
    idx = np.arange(1 << (1 + ebits + fbits + 1), dtype=np.uint64)
    sticky = (idx & _U(1)).astype(np.int64)
    frac = ((idx >> _U(1)) & _U((1 << fbits) - 1)).astype(np.int64)
    slot = ((idx >> _U(1 + fbits)) & _U((1 << ebits) - 1)).astype(np.int64)
    neg = (idx >> _U(1 + fbits + ebits)) == 1
    # representative: (1.frac, then a 1 two places lower when sticky) * 2**(slot - top - 1)
    sig = ((((1 << fbits) | frac) << 2) | sticky)
    exp = np.minimum(slot, 2 * top + 1) - top - 1 - fbits - 2
    sig = np.where(neg, -sig, sig)
    code = np.concatenate([round_scaled(f, sig[i:i + _CHUNK], exp[i:i + _CHUNK], rounding)
                           for i in range(0, sig.size, _CHUNK)])
    # slot 2*top+2: float64 zero (exactly 0 when frac and sticky are 0) or subnormal (far below
    # minpos: minpos with the sign); slot 2*top+3 and beyond: NaN/inf -> NaR
    zslot = slot == 2 * top + 2
    minpos = np.where(neg, f.mask, 1).astype(code.dtype)
    code = np.where(zslot, np.where((frac == 0) & (sticky == 0), 0, minpos), code)
    code = np.where(slot > 2 * top + 2, 1 << (f.bits - 1), code).astype(code.dtype)
    code.setflags(write=False)
    return code


@lru_cache(maxsize=32)
def _slots(f: NumberFormat) -> NDArray[np.uint64]:
    """Index bits of the sign and slot for each of the 4096 (sign, float64 exponent) fields."""
    top, fbits, ebits = _layout(f)
    se = np.arange(4096, dtype=np.int64)
    ef = se & 0x7FF
    slot = np.clip(ef - 1023 + top + 1, 0, 2 * top + 1)
    slot = np.where(ef == 0, 2 * top + 2, np.where(ef == 0x7FF, 2 * top + 3, slot))
    out = ((slot << (1 + fbits)) | ((se >> 11) << (1 + fbits + ebits))).astype(np.uint64)
    out.setflags(write=False)
    return out


def posit_encode_f64(f: NumberFormat, x: NDArray[np.float64], rounding: str
                     ) -> NDArray[np.unsignedinteger]:
    """Encode float64 values into posit ``f`` (n <= 16): NaN/inf -> NaR, +-0 -> 0."""
    tab = _table(f, rounding)
    slots = _slots(f)
    top, fbits, ebits = _layout(f)
    u = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64).reshape(-1)
    out = np.empty(u.size, dtype=tab.dtype)
    low = 52 - fbits
    lowmask, fmask = _U((1 << low) - 1), _U((1 << fbits) - 1)
    for i in range(0, u.size, _CHUNK):
        c = u[i:i + _CHUNK]
        idx = slots[(c >> _U(52)).astype(np.intp)]
        idx |= ((c >> _U(low)) & fmask) << _U(1)
        idx |= (c & lowmask) != 0
        np.take(tab, idx.astype(np.intp), out=out[i:i + _CHUNK])
    return out.reshape(np.shape(x))
