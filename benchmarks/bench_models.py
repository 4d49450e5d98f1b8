"""Speed of the bit-exact reference models against the targets of issue 3.

    /work/venv/bin/python benchmarks/bench_models.py [--json OUT] [--repeat N]

Targets (recorded in BENCHMARKS.md, not asserted by tests):
  * posit(16,1) multiply >= 20 M results/s on one core, 10**7-element arrays
  * float4_e2m1fn encode of 10**7 float32 at least as fast as ml_dtypes' cast
  * MX quantization (MXFP4 and MXFP8) of a 4096 x 4096 matrix < 0.5 s
  * the exhaustive posit(8,0) multiplication table (65,536 pairs) < 50 ms, built from scratch
  (plus, for information, a MixPE W4A8 group GEMM with late dequantization)
Each figure is the best of ``--repeat`` runs (table caches are warmed first, except for the
posit8 table, which is rebuilt from the exact path every time).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import ml_dtypes
import numpy as np

from mixforge.models import (
    arith,
    get_format,
    group_gemm_late_dequant,
    group_quantize,
    mul,
    mx_quantize,
)
from mixforge.models.codec import encode


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = 10**7
    rows: dict[str, float] = {}

    p16 = get_format("posit16_es1")
    a = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    b = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    mul(p16, a[:10], b[:10])  # warm the decode / encode tables
    t = best(lambda: mul(p16, a, b), args.repeat)
    rows["posit16_es1_mul_Mresults_per_s"] = n / t / 1e6
    rows["posit16_es1_mul_1e7_s"] = t

    x32 = rng.standard_normal(n).astype(np.float32) * 3
    fp4 = get_format("float4_e2m1fn")
    encode(fp4, x32[:10])
    rows["fp4_encode_1e7_f32_s"] = best(lambda: encode(fp4, x32), args.repeat)
    rows["ml_dtypes_fp4_cast_1e7_f32_s"] = best(lambda: x32.astype(ml_dtypes.float4_e2m1fn),
                                                args.repeat)
    assert np.array_equal(encode(fp4, x32[:10**6]),
                          x32[:10**6].astype(ml_dtypes.float4_e2m1fn).view(np.uint8))

    m = rng.standard_normal((4096, 4096)).astype(np.float32)
    for elem in ("float4_e2m1fn", "float8_e4m3fn", "int8"):
        mx_quantize(m[:32], elem)
        rows[f"mx_quantize_4096x4096_{elem}_s"] = best(lambda e=elem: mx_quantize(m, e),
                                                       args.repeat)

    gq = group_quantize(rng.standard_normal((4096, 512)), "int4", 128)
    a8 = rng.integers(0, 256, (64, 4096), dtype=np.uint8)
    rows["group_gemm_late_dequant_w4a8_64x4096x512_s"] = best(
        lambda: group_gemm_late_dequant(a8, "int8", gq), args.repeat)

    p8 = get_format("posit8_es0")

    def table() -> None:
        arith._binary_table.cache_clear()
        arith._binary_table(p8, "mul", "near_even", "saturate")

    rows["posit8_es0_mul_table_65536_ms"] = best(table, max(args.repeat, 5)) * 1e3

    for k, v in rows.items():
        print(f"{k:40s} {v:10.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
