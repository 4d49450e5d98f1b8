"""cocotb testbench (per cycle): latency of DequantFirstPE (kind mul_dequant_first) and
FP16MacPE (kind fp16_mac), measured at the ports.

Every functional path (exhaustive W x A, FP16 edges, random products, accumulation sequences
with back-pressure) runs in the free-running harness, ``tb_pe_fast``, which also checks latency
on every full-rate output; this module keeps the independent per-cycle measurement.

MIXFORGE_TB_PARAMS (JSON): kind, k, out, latency.
"""

from __future__ import annotations

import cocotb

from mixforge.hw.verify.tb_pe_common import StreamTB, measure_latency, pack, params


def _item(p: dict, w: int, a: int, last: int) -> int:
    if p["kind"] == "mul_dequant_first":  # w, a, sm, zero, tscale, last
        return pack([(w, p["k"]), (a, 8), (1, 8), (0, 8), (0x3C00, 16), (last, 1)])
    return pack([(w, p["k"]), (a, 16), (0x3C00, 16), (0, 8), (last, 1)])


@cocotb.test()
async def latency_matches_property(dut):  # type: ignore[no-untyped-def]
    p = params()
    tb = StreamTB(dut)
    await tb.reset()
    seen = await measure_latency(tb, _item(p, 1, 3, 1))
    assert seen == p["latency"], f"latency {seen} != declared {p['latency']}"
    items = [_item(p, 1, 1, int(j == 63)) for j in range(64)]
    start = tb.cycles
    await tb.run(items, 1)
    assert tb.cycles - start == 64 + p["latency"] - 1, tb.cycles - start
