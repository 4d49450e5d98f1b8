"""PEArray in Verilator: tiled GEMMs bit-exact vs models/, measured cycles == ArraySpec.

Float-output arrays (MixPE group dequant at the edge, and the dequantize-first multiplier
baseline) are checked pattern for pattern against ``models.pe.shift_add_pe`` /
``models.pe.dequant_first_pe``, with random group scales and zero points (some Inf/NaN).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.errors import ConfigError
from mixforge.hw.array import ArrayConfig, measure_gemm_cycles, run_array_tb

# Shapes that are not multiples of R, C (or of the group), plus 1x1x1 and exact fits.
SHAPES_4 = [(5, 7, 6), (4, 4, 4), (1, 1, 1), (9, 13, 5), (2, 17, 3), (16, 8, 9), (3, 5, 11)]
SHAPES_8 = [(5, 21, 6), (8, 8, 8), (12, 9, 17), (1, 3, 2)]

# K not a multiple of the group (tails), M / N not multiples of R / C, one-group tiles.
SHAPES_DQ = [(5, 7, 6), (4, 17, 4), (1, 1, 1), (9, 20, 5), (3, 8, 2)]

CONFIGS = {
    "ws4_w4a8": (ArrayConfig(rows=4, cols=4, dataflow="ws", w_bits=4), SHAPES_4, None),
    # same parameters as examples/array/os_4x4_w4a8_dequant.yaml (shared Verilator build)
    "os4_dequant_g8": (ArrayConfig(rows=4, cols=4, dataflow="os", dequant=True, group=8),
                       SHAPES_DQ, None),
    "os8_dequant_g5_f16_w3a6": (ArrayConfig(rows=8, cols=8, dataflow="os", dequant=True,
                                            group=5, out="float16", w_bits=3, a_bits=6),
                                [(5, 21, 6), (12, 9, 17)], None),
    "os4_dequant_first": (ArrayConfig(rows=4, cols=4, dataflow="os", pe="dequant_first",
                                      group=8), SHAPES_DQ, None),
    "ws4_db_w4a8": (ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True),
                    SHAPES_4 + [(20, 9, 9), (30, 12, 3)], None),
    "os4_w4a8": (ArrayConfig(rows=4, cols=4, dataflow="os"), SHAPES_4[:5], None),
    "ws8_w4a8_group": (ArrayConfig(rows=8, cols=8, dataflow="ws"), SHAPES_8, 12),
    "os8_posit8": (ArrayConfig(rows=8, cols=8, dataflow="os", pe="posit8"), SHAPES_8, None),
    "ws4_posit8": (ArrayConfig(rows=4, cols=4, dataflow="ws", pe="posit8"), SHAPES_4[:3], None),
}


def _check_run(run, cfg: ArrayConfig, group: int | None) -> None:
    assert run.passed, run.failures
    spec = cfg.spec
    group = cfg.fold_group(group)
    for g in run.gemms:
        assert g.mismatches == 0
        sched = spec.schedule(g.m, g.k, g.n, group)
        # folds without output rows (a dequant tile's earlier groups) log last_output = -1
        measured = [(f["load_start"], f["stream_start"], f["last_output"]) for f in g.folds]
        expected = [(s.load_start, s.stream_start,
                     s.last_output if f["rows"] else -1) for s, f in zip(sched, g.folds,
                                                                         strict=True)]
        assert measured == expected, f"{cfg.name} {g.m}x{g.k}x{g.n}"
        if cfg.dequant:  # outputs only once per output tile, on its final group
            tiles = -(-g.m // cfg.rows) * -(-g.n // cfg.cols)
            assert sum(bool(f["rows"]) for f in g.folds) == tiles
        assert g.gemm_cycles == g.spec_cycles == spec.gemm_cycles(g.m, g.k, g.n, group)


@pytest.mark.rtl
@pytest.mark.parametrize("key", list(CONFIGS))
def test_array_gemms_bit_exact_and_timed(key: str, sim: str) -> None:
    cfg, shapes, group = CONFIGS[key]
    run = run_array_tb(cfg, shapes, group_size=group, seed=7, sim=sim,
                       special=0.05 if cfg.float_out else 0.0)
    assert len(run.gemms) == len(shapes)
    _check_run(run, cfg, group)


@pytest.mark.rtl
@pytest.mark.icarus
def test_group_not_multiple_of_rows(sim: str) -> None:
    cfg = ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True)
    run = run_array_tb(cfg, [(6, 14, 5), (3, 9, 9)], group_size=6, seed=3, sim=sim)
    _check_run(run, cfg, 6)
    os_cfg = ArrayConfig(rows=4, cols=4, dataflow="os")
    _check_run(run_array_tb(os_cfg, [(6, 14, 5)], group_size=5, sim=sim), os_cfg, 5)


@pytest.mark.rtl
def test_random_stalls_stay_bit_exact(sim: str) -> None:
    """Bubbles on the input streams: results still exact; cycles only grow."""
    for cfg in (ArrayConfig(rows=4, cols=4, dataflow="ws", double_buffer=True),
                ArrayConfig(rows=4, cols=4, dataflow="os"), CONFIGS["os4_dequant_g8"][0]):
        run = run_array_tb(cfg, [(7, 9, 5), (3, 17, 6)],
                           group_size=None if cfg.dequant else 5, stall=0.3, seed=11, sim=sim)
        assert run.passed, run.failures
        assert all(g.gemm_cycles >= g.spec_cycles for g in run.gemms)


@pytest.mark.rtl
def test_posit8_all_products_and_nar(sim: str) -> None:
    """All 65,536 posit(8,0) pairs through the OS 8x8 array == models.mul; NaR propagates."""
    cfg = CONFIGS["os8_posit8"][0]
    run = run_array_tb(cfg, [(9, 6, 10)], nar=True, exhaustive=True, seed=5, sim=sim)
    assert run.passed, run.failures


@pytest.mark.rtl
def test_measure_gemm_cycles_json(tmp_path: Path, sim: str) -> None:
    cfg = CONFIGS["ws4_w4a8"][0]
    out = tmp_path / "cycles.json"
    meas = measure_gemm_cycles(cfg, 10, 13, 9, sim=sim, json_out=out)
    # SCALE-Sim: folds * (2R + C + M - 2) - 1 = 12 * 20 - 1
    assert meas.gemm_cycles == 239 == cfg.spec.gemm_cycles(10, 13, 9)
    data = json.loads(out.read_text())
    assert data["gemm_cycles"] == 239 and len(data["folds"]) == 12
    assert data["config"]["rows"] == 4 and data["ideal_cycles"] == 74


@pytest.mark.parametrize("kw,msg", [
    ({"rows": 0}, "rows: must be an integer in 1..64, not 0"),
    ({"w_bits": 9}, "w_bits: must be an integer in 2..8, not 9"),
    ({"pe": "fp4"}, "pe: must be 'shift_add', 'posit8', 'dequant_first', 'multiformat', "
                    "'fp16_mac', 'shared_quire' or 'separate_macs', not 'fp4'"),
    ({"dequant": True, "acc_depth": 0}, "acc_depth: must be an integer in 1..65536, not 0"),
    ({"dequant": True, "dataflow": "os", "pe": "posit8"},
     "dequant: needs pe 'shift_add', not 'posit8'"),
    ({"pe": "dequant_first", "dequant": True}, "dequant: needs pe 'shift_add', not 'dequant_"),
    ({"group": 0}, "group: must be an integer in 1..4096, not 0"),
    ({"out": "bfloat16"}, "out: must be 'float32' or 'float16', not 'bfloat16'"),
    ({"dataflow": "os", "double_buffer": True},
     "double_buffer: needs the 'ws' dataflow, not 'os'"),
    ({"max_k": 0}, "max_k: must be an integer in 1..1048576, not 0"),
])
def test_bad_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        ArrayConfig(**kw)  # type: ignore[arg-type]


def test_dequant_group_is_the_hardware_group() -> None:
    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", dequant=True, group=8)
    assert cfg.fold_group(None) == 8 == cfg.fold_group(8)
    with pytest.raises(ConfigError, match=r"group_size: must equal array.group \(8\)"):
        cfg.fold_group(6)
    assert ArrayConfig(dataflow="os", pe="dequant_first").fold_group(6) is None
    # the edge units' pipeline is part of the timing contract
    assert cfg.spec.dequant_latency == 5
    assert cfg.spec.gemm_cycles(5, 7, 6) == ArrayConfig(dataflow="os").spec.gemm_cycles(
        5, 7, 6) + 5


def test_float_reference_is_the_pe_model() -> None:
    """The array reference is models.pe per output element (checked here on its own)."""
    import numpy as np

    from mixforge.hw.array.reference import float_outputs, random_quant
    from mixforge.models.pe import shift_add_pe

    cfg = ArrayConfig(rows=4, cols=4, dataflow="os", dequant=True, group=4)
    rng = np.random.default_rng(0)
    a, w = rng.integers(0, 256, (3, 10)), rng.integers(0, 16, (10, 2))
    q = random_quant(cfg, rng, 10, 2)
    out = float_outputs(cfg, a, w, q)
    g = np.arange(10) // 4
    assert out[0, 2, 1] == shift_add_pe(w[:, 1], a[2], q.scale[g, 1], q.zero[g, 1], k=4,
                                        act="int8", group=4, out="float32")
    assert len(set(out.ravel().tolist())) == out.size  # distinct, non-trivial results


def test_generated_verilog_names_itself(tmp_path: Path) -> None:
    from mixforge.hw.array.measure import generate_array

    cfg = ArrayConfig(rows=2, cols=3, dataflow="ws", double_buffer=True)
    v = generate_array(cfg, tmp_path)
    meta = json.loads(v.with_suffix(".json").read_text())
    assert meta["generator"] == "PEArray" and meta["params"]["cols"] == 3
    assert meta["timing"]["contract"] == "mixforge.hw.specs.ArraySpec"
    assert f"module {cfg.name}" in v.read_text()
