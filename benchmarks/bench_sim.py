"""Simulator speed: a 512x1024x1024 GEMM on the 32x32 WS array, and tiles simulated per second.

Run: ``/work/venv/bin/python benchmarks/bench_sim.py`` (targets: < 0.1 s per GEMM, >= 100k
tiles/s; SCALE-Sim v3 needs about 67 s for the GEMM). Times exclude start-up (imports, YAML).
"""

from __future__ import annotations

import time
from pathlib import Path

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.bucket import KvBucket
from mixforge.sim.engine.dram import transfer_time
from mixforge.sim.engine.gemm import simulate_gemm
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Attention, Gemm, Mapping, Vector, tail_cycles, tile_cycles

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
    serving()


def _decode_step(sim_: Simulator, kv_lens: list[int]) -> float:
    """One decode step of a Llama-2-7B layer (hidden 4096, 32 heads, MLP 11008, FP16) for
    ``len(kv_lens)`` requests; all 32 layers have the same shapes, so the step is 32 x one layer.
    Linear layers batch the requests; attention runs per request at its own KV length."""
    b = len(kv_lens)
    ops: list[Gemm | Vector | Attention] = [
        Vector("rmsnorm", b * 4096), Gemm(b, 4096, 3 * 4096, w="float16", a="float16"),
        *[Attention(1, 1, kv, 32, 32, 128) for kv in kv_lens],
        Gemm(b, 4096, 4096, w="float16", a="float16"), Vector("rmsnorm", b * 4096),
        Gemm(b, 4096, 2 * 11008, w="float16", a="float16"),
        Vector("swiglu", b * 11008, inputs=2), Gemm(b, 11008, 4096, w="float16", a="float16")]
    return 32 * sum(sim_.run_op(op).seconds for op in ops)


def serving(steps: int = 300, seed: int = 0) -> None:
    """Decode steps with batch ~ U[1, 64] and per-request KV lengths ~ U[1, 4096] each step.

    Each policy runs ``steps`` steps on a fresh Simulator (cold: every new shape is simulated),
    then ``steps`` more steps with new random draws on the same Simulator (warm).
    """
    import numpy as np

    arch = load_arch(HW / "h100_like.yaml")
    for label, bucket in (("exact", None), ("KvBucket(step=256)", KvBucket(step=256)),
                          ("KvBucket(ratio=1.25)", KvBucket(ratio=1.25))):
        rng = np.random.default_rng(seed)
        sim_ = Simulator(arch, kv_bucket=bucket)
        rates = []
        simulated = 0.0
        for _ in ("cold", "warm"):
            t0 = time.perf_counter()
            for _ in range(steps):
                b = int(rng.integers(1, 65))
                simulated += _decode_step(sim_, [int(x) for x in rng.integers(1, 4097, b)])
            rates.append(steps / (time.perf_counter() - t0))
        st = sim_.cache_stats()
        print(f"serving decode, Llama-2-7B layer x 32 on h100_like, {label}: "
              f"{rates[0]:,.1f} steps/s cold, {rates[1]:,.1f} steps/s warm "
              f"({2 * steps} steps), cache hit rate {st['hit_rate']:.1%} "
              f"({st['misses']:,} simulated shapes), simulated {simulated:.3f} s")


if __name__ == "__main__":
    main()
