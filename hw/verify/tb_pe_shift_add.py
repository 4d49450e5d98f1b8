"""cocotb testbench (per cycle): ShiftAddPE latency and throughput, measured at the ports.

Every functional path (exhaustive W x A, FP16 edges and random, accumulation sequences with
back-pressure) runs in the free-running harness, ``tb_pe_fast``, which also checks latency on
every full-rate output. This module keeps the independent per-cycle measurement that validates
the harness's cycle accounting.

MIXFORGE_TB_PARAMS (JSON): k, act, group, out, ternary, latency.
"""

from __future__ import annotations

import cocotb

from mixforge.hw.verify.tb_pe_common import StreamTB, measure_latency, pack, params


def _item(p: dict, w: int, a: int, last: int) -> int:
    return pack([(w, p["k"]), (a, 8 if p["act"] == "int8" else 16), (0x3C00, 16), (0, 8),
                 (last, 1)])


@cocotb.test()
async def latency_matches_property(dut):  # type: ignore[no-untyped-def]
    p = params()
    tb = StreamTB(dut)
    await tb.reset()
    seen = await measure_latency(tb, _item(p, 1, 0x3C00 if p["act"] == "fp16" else 3, 1))
    assert seen == p["latency"], f"latency {seen} != declared {p['latency']}"
    # throughput: N back-to-back products are accepted in N cycles (ready never drops)
    items = [_item(p, 1, 1, int(j == 63)) for j in range(64)]
    start = tb.cycles
    await tb.run(items, 1)
    assert tb.cycles - start == 64 + p["latency"] - 1, tb.cycles - start
