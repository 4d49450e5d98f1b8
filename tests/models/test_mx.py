"""MX quantization against a direct re-implementation of the OCP MX v1.0 algorithm."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from mixforge.errors import FormatError
from mixforge.models import decode, mx_dequantize, mx_quantize

# element: (ml_dtypes type or None for INT8, emax_elem, max normal)
OCP = {
    "float8_e4m3fn": (ml_dtypes.float8_e4m3fn, 8, 448.0),
    "float8_e5m2": (ml_dtypes.float8_e5m2, 15, 57344.0),
    "float6_e2m3fn": (ml_dtypes.float6_e2m3fn, 2, 7.5),
    "float6_e3m2fn": (ml_dtypes.float6_e3m2fn, 4, 28.0),
    "float4_e2m1fn": (ml_dtypes.float4_e2m1fn, 2, 6.0),
    "int8": (None, 0, 127 / 64),
}


def ocp_reference(block: list[float], elem: str) -> tuple[int, list[float]]:
    """OCP MX v1.0 section 6.3, one block: returns (E8M0 code, dequantized element values)."""
    dtype, emax, max_norm = OCP[elem]
    if any(math.isnan(v) or math.isinf(v) for v in block):
        return 0xFF, [math.nan] * len(block)
    amax = max(abs(v) for v in block)
    if amax == 0:
        shared = -127
    else:
        shared = math.frexp(amax)[1] - 1 - emax  # floor(log2(amax)) - emax_elem
        shared = max(-127, min(127, shared))
    scale = 2.0**shared
    out = []
    for v in block:
        r = min(max(v / scale, -max_norm), max_norm)  # clamp, then round to nearest even
        if dtype is None:
            q = float(np.rint(r * 64)) / 64
        else:
            q = float(np.array([r]).astype(dtype).astype(np.float64)[0])
        out.append(q * scale)
    return shared + 127, out


@pytest.mark.parametrize("elem", list(OCP))
def test_mx_matches_ocp_reference(elem: str) -> None:
    rng = np.random.default_rng(21)
    rows = [rng.standard_normal(32) * 10.0 ** rng.integers(-6, 6) for _ in range(60)]
    rows.append(np.zeros(32))
    rows.append(np.r_[np.full(31, 1e-3), 1e30])  # tiny values flushed by a huge block max
    rows.append(np.r_[np.full(31, 3e-39), 1e-38])  # scale clamps at 2**-127
    rows.append(np.r_[np.ones(31), np.nan])
    rows.append(np.r_[np.ones(31), -np.inf])
    rows.append(np.array([2.0**k * (1 + 0.5 * (k % 2)) for k in range(-16, 16)]))  # ties
    x = np.array(rows, dtype=np.float32).astype(np.float64)
    elems, scales = mx_quantize(x, elem)
    e32, s32 = mx_quantize(x.astype(np.float32), elem)  # the float32 fast path agrees
    np.testing.assert_array_equal(e32, elems)
    np.testing.assert_array_equal(s32, scales)
    deq = mx_dequantize(elems, scales, elem)
    for i, row in enumerate(x):
        code, want = ocp_reference([float(v) for v in row], elem)
        assert int(scales[i, 0]) == code, (elem, i)
        np.testing.assert_array_equal(deq[i], np.array(want), err_msg=f"{elem} row {i}")


def test_mx_blocks_along_axis_and_partial_block() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((70, 3)).astype(np.float32)
    e0, s0 = mx_quantize(x, "float4_e2m1fn", axis=0)
    assert e0.shape == (70, 3) and s0.shape == (3, 3)
    e1, s1 = mx_quantize(np.ascontiguousarray(x.T), "float4_e2m1fn")
    np.testing.assert_array_equal(e0.T, e1)
    np.testing.assert_array_equal(s0.T, s1)
    last = x[64:, 0].astype(np.float64)
    code, want = ocp_reference(list(last), "float4_e2m1fn")
    assert int(s0[2, 0]) == code
    np.testing.assert_array_equal(mx_dequantize(e0, s0, "float4_e2m1fn", axis=0)[64:, 0], want)


def test_mx_elements_are_element_bit_patterns() -> None:
    x = np.array([[1.0, -1.0, 0.5, 6.0] + [0.0] * 28])
    e, s = mx_quantize(x, "float4_e2m1fn")
    assert e.dtype == np.uint8 and s.dtype == np.uint8
    assert int(s[0, 0]) == 127  # amax 6 -> floor(log2 6) - 2 = 0
    assert decode("float4_e2m1fn", e[0, :4]).tolist() == [1.0, -1.0, 0.5, 6.0]


def test_mx_bad_input() -> None:
    with pytest.raises(FormatError, match="MX element"):
        mx_quantize(np.ones(32), "posit8_es0")
    with pytest.raises(FormatError, match="block_size"):
        mx_quantize(np.ones(32), "int8", block_size=0)
    with pytest.raises(FormatError, match="float values"):
        mx_quantize(np.ones(32, dtype=np.int32), "int8")
    with pytest.raises(FormatError, match="uint8"):
        mx_dequantize(np.zeros(32, dtype=np.uint8), np.zeros(1, dtype=np.int64), "int8")
