"""xPU + logic-PIM running concurrently on duplex.yaml: split bank bundles vs shared banks.

Workload (as tests/sim/test_bank_partition.py): 2 FP16 expert GEMMs 256x4096x14336 on the xPU,
4 decode-attention ops (batch 32, KV 2048, 64 query / 8 KV heads, d 128) on the logic-PIM.
Run: ``python benchmarks/bench_bank_partition.py``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mixforge.sim.arch import load_arch
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Attention, Gemm

ARCH = Path(__file__).resolve().parents[1] / "examples" / "hw" / "duplex.yaml"


def main() -> None:
    xs = [Gemm(256, 4096, 14336, w="float16", a="float16", name=f"e{i}") for i in range(2)]
    ps = [Attention(32, 1, 2048, 64, 8, 128, name=f"attn{i}") for i in range(4)]
    base = load_arch(ARCH)
    assert base.pim is not None
    print("| banks | slowdown xPU | slowdown PIM | row activations alone / together | time |")
    print("|---|--:|--:|--:|--:|")
    for mode in ("split", "shared"):
        arch = replace(base, pim=replace(base.pim, bank_partition=mode))
        r = Simulator(arch).run_concurrent(xs, ps)
        i = r.interference
        assert i is not None
        print(f"| {mode} | {i.slowdown_xpu:.2f} | {i.slowdown_pim:.2f} | "
              f"{i.acts_alone:,} / {i.acts_together:,} | {r.seconds * 1e6:,.1f} us |")


if __name__ == "__main__":
    main()
