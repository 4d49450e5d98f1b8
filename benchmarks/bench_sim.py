"""Simulator speed: a 512x1024x1024 GEMM on the 32x32 WS array, and tiles simulated per second.

Run: ``/work/venv/bin/python benchmarks/bench_sim.py`` (targets: < 0.1 s per GEMM, >= 100k
tiles/s; SCALE-Sim v3 needs about 67 s for the GEMM). Times exclude start-up (imports, YAML).
"""

from __future__ import annotations

import time
from pathlib import Path

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.dram import transfer_time
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Gemm, Mapping, tail_cycles, tile_cycles

HW = Path(__file__).resolve().parents[1] / "examples" / "hw"


def _best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _cold(arch, op):  # type: ignore[no-untyped-def]
    for fn in (transfer_time, tile_cycles, tail_cycles):  # pure memo caches: start empty
        fn.cache_clear()
    return Simulator(arch).run_op(op)


def main() -> None:
    arch = load_arch(HW / "ws32.yaml")
    op = Gemm(512, 1024, 1024, w="int8", a="int8")
    # cold: a fresh Simulator and empty memo caches (mapping search + DRAM model + tiles)
    cold = _best(lambda: _cold(arch, op))
    res = Simulator(arch).run_op(op)
    print(f"GEMM 512x1024x1024 on ws32: {res.cycles:,} cycles, {res.tiles} tiles, "
          f"cold (fresh Simulator) {cold * 1e3:.2f} ms, target < 100 ms")
    warm = _best(lambda: Simulator(arch).run_op(Gemm(512, 1024, 1024, name="again")), 20)
    print(f"  same shape in a new Simulator (DRAM/array caches warm): {warm * 1e3:.2f} ms")
    sim_ = Simulator(arch)
    sim_.run_op(op)
    hit = _best(lambda: sim_.run_op(op), 1000)
    print(f"  cached result: {hit * 1e6:.2f} us")
    # tile throughput: array-sized tiles with the whole M streamed (the SCALE-Sim schedule)
    for m, k, n in ((512, 1024, 1024), (512, 8192, 8192)):
        big = Gemm(m, k, n)
        mp = Mapping(m, 32, 32, "nkm", True)
        t = _best(lambda big=big, mp=mp: simulate_gemm(arch, big, mp), 3)
        tiles = simulate_gemm(arch, big, mp).tiles
        print(f"tile model {m}x{k}x{n}, 32x32 tiles: {tiles:,} tiles in {t * 1e3:.1f} ms = "
              f"{tiles / t:,.0f} tiles/s (target >= 100,000)")
    # a many-core device: mapping search + L2 + 132-core split, nothing cached
    h100 = load_arch(HW / "h100_like.yaml")
    for op in (Gemm(4096, 4096, 4096, w="float16", a="float16"),
               Gemm(8, 8192, 8192, w="float16", a="float16")):
        t = _best(lambda op=op: _cold(h100, op), 3)
        r = Simulator(h100).run_op(op)
        print(f"h100_like {op.m}x{op.k}x{op.n} fp16: {r.tiles:,} tiles, simulated "
              f"{r.seconds * 1e6:,.1f} us (roofline {r.roofline_seconds * 1e6:,.1f} us), "
              f"wall {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
