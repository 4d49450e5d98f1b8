"""Mapper properties (issue 18 items 2, 3, 7) on seeded random shapes and devices.

* compute cycles of the mapper's choice <= the single-pass WS/OS schedule of the same array
  (``ArraySpec.gemm_cycles`` on the whole GEMM, one core) and >= ideal (MACs / (R*C*lanes));
* the simulated time is never below the roofline;
* regressions: ws32 2048x64x64 (was 9,695 compute cycles, single pass 8,567).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mixforge.sim.arch.device import ArchConfig, arch_from_dict
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.mapping import Gemm, gemm_compute_cycles, map_gemm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _device(rng: np.random.Generator, dataflow: str, double_buffer: bool,
            cores: int = 1) -> ArchConfig:
    r = int(rng.choice([4, 8, 16, 32]))
    c = int(rng.choice([4, 8, 16, 32]))
    kib = int(rng.choice([16, 32, 64, 128]))
    data: dict[str, Any] = {
        "name": "prop",
        "xpu": {
            "freq_hz": float(rng.choice([0.5e9, 1e9, 1.5e9])), "cores": cores,
            "array": {"rows": r, "cols": c, "dataflow": dataflow,
                      "double_buffer": double_buffer, "pe_latency": 0},
            "pe": {"kind": "int_mac", "acc_bits": 32,
                   "modes": [{"w": "int8", "a": "int8", "lanes": 1},
                             {"w": "int4", "a": "int8", "lanes": 2}]},
            "sram": {"weight": {"size_bytes": kib * 1024, "width_bits": 1024},
                     "input": {"size_bytes": kib * 1024, "width_bits": 1024},
                     "output": {"size_bytes": kib * 1024, "width_bits": 2048}},
        },
        "hbm": {"preset": "hbm2e"},
    }
    return arch_from_dict(data)


def _shape(rng: np.random.Generator, rows: int) -> tuple[int, int, int]:
    m = 1 if rng.random() < 0.15 else int(rng.integers(1, 700))
    k = int(rng.integers(1, rows)) if rng.random() < 0.2 else int(rng.integers(1, 1500))
    n = int(rng.integers(1, 600))
    return m, k, n


CASES = [(df, db, w) for df, db in (("ws", False), ("ws", True), ("os", False))
         for w in ("int8", "int4")]


@pytest.mark.parametrize(("dataflow", "double_buffer", "w"), CASES)
def test_compute_between_ideal_and_single_pass(dataflow: str, double_buffer: bool,
                                               w: str) -> None:
    """>= 500 seeded shapes over the 6 cases: M = 1, K < R, N not a multiple of C included."""
    rng = np.random.default_rng(18_2 + len(dataflow) * 7 + double_buffer * 3 + len(w))
    for _ in range(90):
        arch = _device(rng, dataflow, double_buffer)
        spec = arch.xpu.array
        m, k, n = _shape(rng, spec.rows)
        op = Gemm(m=m, k=k, n=n, w=w, a="int8")
        lanes = arch.xpu.pe.lanes(op.w, op.a)
        mp = map_gemm(op, arch.xpu, arch.hbm.peak_bw_bytes_per_s)
        g = simulate_gemm(arch, op, mp)
        single = gemm_compute_cycles(spec, lanes, m, k, n)
        ideal = m * k * n / (spec.rows * spec.cols * lanes)
        where = f"{m}x{k}x{n} {w} on {spec} -> {mp}"
        assert g.compute_cycles <= single, where
        assert g.compute_cycles >= ideal, where
        assert g.cycles >= g.compute_cycles - 1, where  # one core: never faster than its array


def test_stream_counts_encode_fold_streams() -> None:
    from collections import Counter

    from mixforge.hw.specs import ArraySpec
    from mixforge.sim.mapping.cycles import stream_counts

    rng = np.random.default_rng(7)
    for _ in range(300):
        df = str(rng.choice(["ws", "os"]))
        spec = ArraySpec(int(rng.integers(1, 40)), int(rng.integers(1, 40)), df,  # type: ignore[arg-type]
                         acc_depth=int(rng.integers(1, 90)) if df == "ws" and rng.random() < .3
                         else None)
        m, k, n = (int(x) for x in rng.integers(1, 300, 3))
        g = int(rng.integers(1, 100)) if rng.random() < 0.4 else None
        enc = Counter[int]()
        for s, cnt in stream_counts(spec, m, k, n, g):
            enc[s] += cnt
        assert enc == Counter(spec.fold_streams(m, k, n, g))
