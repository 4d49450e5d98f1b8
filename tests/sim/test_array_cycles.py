"""The per-tile cycle model follows ArraySpec, which without double buffering is SCALE-Sim's."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mixforge.hw.specs import ArraySpec
from mixforge.sim.arch import SramBuffer, SramConfig, load_arch
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.mapping import Gemm, Mapping, gemm_compute_cycles

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"
_rng = np.random.default_rng(5)
SHAPES = [(1, 1, 1), (32, 32, 32), (512, 1024, 1024), (7, 33, 65), (100, 31, 17),
          (1, 4096, 4096), (64, 64, 64)] + [tuple(int(x) for x in _rng.integers(1, 300, 3))
                                              for _ in range(25)]
ARRAYS = [(32, 32), (8, 16), (64, 64), (4, 1), (16, 8)]


def scalesim_ws(r: int, c: int, m: int, k: int, n: int) -> int:
    """SCALE-Sim v3 WS compute cycles (PAPERS.md): folds * (2R + C + M - 2) - 1."""
    folds = math.ceil(k / r) * math.ceil(n / c)
    return folds * (2 * r + c + m - 2) - 1


@pytest.mark.parametrize(("r", "c"), ARRAYS)
@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
def test_arrayspec_is_scalesim(r: int, c: int, m: int, k: int, n: int) -> None:
    spec = ArraySpec(r, c, dataflow="ws", double_buffer=False)
    assert gemm_compute_cycles(spec, 1, m, k, n) == scalesim_ws(r, c, m, k, n)


def _big_sram(arch_name: str = "ws32"):  # type: ignore[no-untyped-def]
    arch = load_arch(EXAMPLES / f"{arch_name}.yaml")
    big = SramBuffer(size_bytes=1 << 30, width_bits=1 << 20)
    return replace(arch, xpu=replace(arch.xpu, sram=SramConfig(big, big, big)))


@pytest.mark.parametrize(("m", "k", "n"), SHAPES[:16])
def test_simulator_compute_equals_scalesim(m: int, k: int, n: int) -> None:
    arch = _big_sram()
    op = Gemm(m, k, n)
    # one tile, and K/N split into array-aligned tiles with the whole M streamed: both must give
    # exactly SCALE-Sim's count (the tiles' folds run back to back)
    for mp in (Mapping(m, k, n, "nkm", False), Mapping(m, 64, 96, "nkm", True)):
        t = simulate_gemm(arch, op, mp)
        assert t.compute_cycles == scalesim_ws(32, 32, m, k, n)
        assert t.cycles >= t.compute_cycles


def test_lanes_shrink_k() -> None:
    spec = ArraySpec(32, 32)
    assert gemm_compute_cycles(spec, 4, 64, 128, 32) == spec.gemm_cycles(64, 32, 32)


@pytest.mark.parametrize(("m", "k", "n"), SHAPES[:12])
@pytest.mark.parametrize("group", [None, 64])
def test_one_tile_equals_arrayspec_double_buffered(m: int, k: int, n: int,
                                                   group: int | None) -> None:
    arch = _big_sram()
    spec = ArraySpec(32, 32, dataflow="ws", double_buffer=True)
    pe = replace(arch.xpu.pe, late_dequant=group is not None)
    arch = replace(arch, xpu=replace(arch.xpu, array=spec, pe=pe))
    op = Gemm(m, k, n, group_size=group or 0)
    t = simulate_gemm(arch, op, Mapping(m, k, n, "nkm", False))
    assert t.compute_cycles == spec.gemm_cycles(m, k, n, group)


def test_double_buffering_in_the_array_helps_small_m() -> None:
    arch = _big_sram()
    op = Gemm(8, 1024, 1024)
    mp = Mapping(8, 256, 256, "nkm", True)
    single = simulate_gemm(arch, op, mp).compute_cycles
    db = replace(arch.xpu.array, double_buffer=True)
    double = simulate_gemm(replace(arch, xpu=replace(arch.xpu, array=db)), op, mp).compute_cycles
    assert double < single


def scalesim_os(r: int, c: int, m: int, k: int, n: int) -> int:
    """SCALE-Sim v2 OS compute cycles (``systolic_compute_os.py``): folds * (R + C + K - 2) - 1."""
    return math.ceil(m / r) * math.ceil(n / c) * (r + c + k - 2) - 1


def test_os_32x32_drain_overlapped_beats_scalesim() -> None:
    """Issue 18 item 1: a 32x32 OS array without double buffering, 64x64x64. The RTL used to
    drain each fold before the next (631 cycles); with the drain overlapped it takes 349, below
    SCALE-Sim's 503."""
    arch = _big_sram()
    spec = ArraySpec(32, 32, dataflow="os")
    arch = replace(arch, xpu=replace(arch.xpu, array=spec))
    t = simulate_gemm(arch, Gemm(64, 64, 64), Mapping(64, 64, 64, "nkm", False))
    assert t.compute_cycles == spec.gemm_cycles(64, 64, 64) == 349
    assert t.compute_cycles <= scalesim_os(32, 32, 64, 64, 64) == 503


@pytest.mark.parametrize(("m", "k", "n"), SHAPES[:16])
def test_os_never_slower_than_scalesim_for_several_folds(m: int, k: int, n: int) -> None:
    """Back-to-back OS folds cost max(K, R) <= SCALE-Sim's R + C + K - 2 each; a lone fold
    ends R cycles later than SCALE-Sim's (our rows leave through the bottom edge after it)."""
    for r, c in ARRAYS:
        spec = ArraySpec(r, c, dataflow="os")
        folds = spec.folds(m, k, n)
        ours, theirs = spec.gemm_cycles(m, k, n), scalesim_os(r, c, m, k, n)
        assert ours - theirs == r - (folds - 1) * (r + c + k - 2 - max(k, r)), (r, c)
