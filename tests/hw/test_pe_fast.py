"""The free-running PE harness: wrapper generation, vector plans, the vectorised expectations
(cross-checked against the scalar models/pe functions), and MultiFormatMAC / SharedQuireMAC
through the harness on Verilator (Icarus too when installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.errors import ConfigError
from mixforge.hw.pe.build import run_pe_fast, stream_widths
from mixforge.hw.pe.harness import HARNESS_FILES, HarnessSpec, harness_verilog
from mixforge.hw.pe.specs import (
    DequantFirstSpec,
    FP16MacSpec,
    MultiFormatSpec,
    SeparateMacsSpec,
    SharedQuireSpec,
    ShiftAddSpec,
)
from mixforge.hw.verify import tb_pe_fast
from mixforge.hw.verify import tb_pe_vectors as vec
from mixforge.models import pe as ref


def _params(spec: object, **extra: object) -> dict[str, object]:
    import dataclasses

    return {"kind": spec.kind, **dataclasses.asdict(spec),  # type: ignore[attr-defined]
            "latency": spec.latency, "seed": 3, **extra}  # type: ignore[attr-defined]


def test_harness_verilog_names_the_pe_and_relative_files() -> None:
    hs = HarnessSpec(pe_module="shift_add_w4a8", in_width=37, out_width=32, depth=1024)
    text = harness_verilog(hs)
    assert hs.module == "shift_add_w4a8_harness"
    assert "module shift_add_w4a8_harness (" in text and "shift_add_w4a8 pe (" in text
    assert "reg [36:0] in_mem  [0:1023];" in text and "reg [31:0] out_mem [0:1023];" in text
    for name in HARNESS_FILES.values():  # relative: the simulator runs in the cocotb run folder
        assert f'"{name}"' in text and "/" not in name
    assert HARNESS_FILES == tb_pe_fast.FILES


@pytest.mark.parametrize("kw,msg", [
    ({"pe_module": "3x"}, "pe_module: must be a Verilog identifier"),
    ({"in_width": 0}, "in_width: must be a positive integer, not 0"),
    ({"depth": 1 << 25}, "depth: must be <= 16777216"),
])
def test_harness_spec_validation(kw: dict[str, object], msg: str) -> None:
    args: dict[str, object] = {"pe_module": "pe", "in_width": 8, "out_width": 8, **kw}
    with pytest.raises(ConfigError, match=msg):
        HarnessSpec(**args)  # type: ignore[arg-type]


def test_every_pe_kind_has_a_fast_plan() -> None:
    from mixforge.hw.pe.build import FAST_KINDS
    from mixforge.hw.pe.specs import SPEC_KINDS

    assert set(FAST_KINDS) == set(SPEC_KINDS)
    for kind in FAST_KINDS:
        assert vec.plans(_params(SPEC_KINDS[kind](), vectors=10, sequences=1))


def test_stream_widths_follow_the_layouts() -> None:
    assert stream_widths(ShiftAddSpec(k=4, act="int8")) == (4 + 8 + 16 + 8 + 1, 32)
    assert stream_widths(MultiFormatSpec(out="float16")) == (16 + 16 + 2 + 1, 16)
    assert stream_widths(DequantFirstSpec(k=8)) == (8 + 8 + 8 + 8 + 16 + 1, 32)


def test_batches_end_at_sequence_boundaries() -> None:
    last = np.zeros(10, bool)
    last[[2, 3, 8, 9]] = True
    assert tb_pe_fast._batches(last, 5) == [(0, 4), (4, 9), (9, 10)]
    assert tb_pe_fast._batches(np.ones(5, bool), 2) == [(0, 2), (2, 4), (4, 5)]
    with pytest.raises(AssertionError, match="longer than the harness depth"):
        tb_pe_fast._batches(last, 3)


def test_pack_uses_the_hardware_layout() -> None:
    p = _params(MultiFormatSpec())
    word = vec.pack(vec.layout_of(p), a=0x1234, b=0xABCD, mode=3, last=1)
    assert int(word[0]) == 0x1234 | 0xABCD << 16 | 3 << 32 | 1 << 34


SPECS = [ShiftAddSpec(k=4, act="int8", group=128, out="float32"),
         ShiftAddSpec(k=2, act="int8", group=4, out="float16", ternary=True),
         ShiftAddSpec(k=8, act="fp16", group=32, out="float16"),
         DequantFirstSpec(k=4, out="float32"), FP16MacSpec(k=4, out="float16"),
         MultiFormatSpec(out="posit16_es1"), MultiFormatSpec(out="float16"),
         MultiFormatSpec(out="float32"), SeparateMacsSpec(out="float16")]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_batch_expectations_match_scalar_models(spec: object) -> None:
    """Every suite agrees with the scalar models/pe function on a seeded sample (the batch
    forms themselves: tests/models/test_pe_vectorised.py)."""
    suites = vec.plans(_params(spec, vectors=3000, sequences=6, exhaustive=False, sample=400))
    rng = np.random.default_rng(0)
    checked = sum(vec.cross_check(s, rng, sample=300, edge_cap=300, full_tables=False)
                  for s in suites)
    assert checked >= 600
    for s in suites:
        assert len(s.expected) == int(s.last.sum()) and s.last[-1]
        assert s.xcheck == "sample"


def test_fixed_tables_checked_in_full_then_cached(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An exhaustive table is compared with the scalar model row by row once, stored, and
    later runs compare the batch result with the stored table (a corrupt one fails)."""
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", str(tmp_path))
    p = _params(DequantFirstSpec(k=4, out="float32"), vectors=100, sequences=2)
    first = vec.plans(p)[0]
    assert first.name == "products_WxA_exhaustive" and first.fixed
    assert vec.cross_check(first, np.random.default_rng(0)) == 4096 and first.xcheck == "all"
    stored = list((tmp_path / "expected").glob("*.npy"))
    assert len(stored) == 1
    again = vec.plans(p)[0]
    assert vec.cross_check(again, np.random.default_rng(0)) == 0 and again.xcheck == "cached"
    other = vec.plans({**p, "out": "float16"})[0]  # another spec: another key
    assert vec.cross_check(other, np.random.default_rng(0)) == 4096
    table = np.load(stored[0])
    table[5] ^= np.uint64(1)
    np.save(stored[0], table)
    with pytest.raises(AssertionError, match="differs from the verified table"):
        vec.cross_check(vec.plans(p)[0], np.random.default_rng(0))


def test_cross_check_catches_a_wrong_expectation() -> None:
    suites = vec.plans(_params(MultiFormatSpec(), vectors=500, sequences=4, exhaustive=False,
                               sample=64))
    for s in (suites[3], suites[4]):  # posit16 singles, sequences
        s.expected = s.expected.copy()
        j = 0 if s.name.startswith("posit16") else int(np.flatnonzero(
            np.diff(np.r_[0, np.flatnonzero(s.last) + 1]) <= 32)[0])
        s.expected[j] ^= np.uint64(1)
        with pytest.raises(AssertionError, match="!= models.pe"):
            vec.cross_check(s, np.random.default_rng(0))


def test_hex_files_round_trip(tmp_path: Path) -> None:
    """The NumPy hex writer/reader; the reader also takes Icarus-style files (comments,
    addresses, ragged widths)."""
    words = np.random.default_rng(1).integers(0, 1 << 62, 5000).astype(np.uint64)
    words[:3] = [0, 1, (1 << 62) - 1]
    f = tmp_path / "w.hex"
    tb_pe_fast._write_hex(str(f), words)
    assert f.read_text().splitlines()[:2] == ["0" * 16, "0" * 15 + "1"]
    assert (tb_pe_fast._read_hex(str(f)) == words).all()
    f.write_text("// memory dump\n@0\n1A\n ff\n\n00000003 // tail\n")
    assert tb_pe_fast._read_hex(str(f)).tolist() == [0x1A, 0xFF, 3]


def test_lane_words_visit_every_pair_in_every_lane() -> None:
    for mode in (0, 2):
        _, lanes, lw = ref.mac_lane_formats(ref.MODES[mode])
        a, b = vec.lane_words(np.arange(1 << (2 * lw)), lanes, lw)
        m = (1 << lw) - 1
        for j in range(lanes):
            pairs = ((a >> (j * lw)) & m) | (((b >> (j * lw)) & m) << lw)
            assert len(np.unique(pairs)) == 1 << (2 * lw)


def _run_mf(spec: MultiFormatSpec, sim: str, vectors: int, sequences: int,
            exhaustive: bool = True) -> None:
    res = run_pe_fast(spec, sim=sim, name=spec.kind if spec == MultiFormatSpec() else "mf_pe",
                      tb_params={"vectors": vectors, "sequences": sequences,
                                 "exhaustive": exhaustive, "sample": 1024})
    assert res.tests == 1 and res.failed == 0, res.failures
    recs = {r["test"]: r for r in res.records}
    assert all(r["mismatches"] == 0 and not r["timing_errors"] for r in recs.values()), recs
    assert recs["exhaustive_fp4x4"]["outputs"] == 256
    assert recs["exhaustive_p4x4"]["outputs"] == 256
    if exhaustive:
        assert recs["exhaustive_p8x2"]["outputs"] == 65536
    else:
        assert recs["sampled_p8x2"]["outputs"] == 1024
    assert recs["posit16_edges_random"]["outputs"] == 400 + vectors
    assert recs["mixed_mode_sequences_backpressure"]["outputs"] == sequences


@pytest.mark.rtl
def test_multiformat_fast(sim: str) -> None:
    """MultiFormatMAC through its public ports: exhaustive FP4 / posit(4,1) / posit(8,0),
    posit16 edges + random, mode-switching sequences with back-pressure."""
    if sim == "verilator":
        _run_mf(MultiFormatSpec(), sim, 100_000, 30)
    else:  # Icarus is ~50x slower: posit(8,0) sampled in the default run, exhaustive with -m slow
        _run_mf(MultiFormatSpec(), sim, 1_000, 4, exhaustive=False)


@pytest.mark.rtl
def test_shared_quire_fast(sim: str) -> None:
    """SharedQuireMAC (the multi-format baseline with one multiplier per format) through the
    harness: every PE kind has a Verilator build in the default run."""
    _run_mf(SharedQuireSpec(out="posit16_es1"), sim, 20_000 if sim == "verilator" else 1_000,
            10, exhaustive=sim == "verilator")


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", [MultiFormatSpec(out="float32"), MultiFormatSpec(out="float16"),
                                  SharedQuireSpec(out="posit16_es1"),
                                  SharedQuireSpec(out="float32"),
                                  SeparateMacsSpec(out="posit16_es1")], ids=str)
def test_multiformat_fast_more(sim: str, spec: MultiFormatSpec) -> None:
    _run_mf(spec, sim, 100_000, 60)


@pytest.mark.parametrize("spec", [ShiftAddSpec(k=4, act="int8", group=128),
                                  ShiftAddSpec(k=2, act="int8", group=4, ternary=True),
                                  ShiftAddSpec(k=8, act="int8", group=5),
                                  ShiftAddSpec(k=3, act="fp16", group=16)], ids=str)
def test_worst_case_reaches_the_largest_group_sum(spec: ShiftAddSpec) -> None:
    """The worst-case suite fills whole groups with the largest |sum(w a) - z sum(a)| any
    operands can give (found by brute force over every weight, activation and zero point), in
    both signs, for at least WORST_PRODUCTS products per output."""
    from mixforge.hw.verify.worst_case import WORST_PRODUCTS

    s = vec.plans(_params(spec, vectors=10, sequences=1, exhaustive=False, sample=16))[-1]
    assert s.name == "worst_case_magnitude" and s.fixed
    lens = np.diff(np.r_[0, np.flatnonzero(s.last) + 1])
    assert (lens >= WORST_PRODUCTS).all() and (lens % spec.group == 0).all()
    w = ref.decode_weight(s.cols["w"], k=spec.k, ternary=spec.ternary)
    if spec.act == "int8":
        a = np.where(s.cols["a"] >= 128, s.cols["a"] - 256, s.cols["a"])
        acts = np.arange(-128, 128)
    else:  # FP16 patterns as integers at 2**-24 (the datapath's fixed point)
        a = ref._fp16_fixed(s.cols["a"])[0]
        acts = ref._fp16_fixed(np.arange(0x7C00))[0]
    z = np.where(s.cols["z"] >= 128, s.cols["z"] - 256, s.cols["z"])
    diff = (w * a - z * a).reshape(-1, spec.group).sum(axis=1)
    wall = ref.decode_weight(np.arange(1 << spec.k), k=spec.k, ternary=spec.ternary)
    best = spec.group * int(np.abs(acts).max()) * int(
        max(abs(int(wall.min()) - 127), abs(int(wall.max()) + 128)))
    assert int(np.abs(diff).max()) == best
    assert diff.min() < 0 < diff.max()  # both signs


@pytest.mark.parametrize("spec", [DequantFirstSpec(k=4), FP16MacSpec(k=8),
                                  MultiFormatSpec(), SharedQuireSpec(), SeparateMacsSpec()],
                         ids=str)
def test_every_kind_ends_with_worst_case_sequences(spec: object, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mixforge.hw.verify.worst_case import WORST_PRODUCTS

    monkeypatch.setenv("MIXFORGE_NO_TABLE_CACHE", "1")
    # an empty table folder: a table another run verified and cached must not stand in for the
    # scalar comparison this test counts
    monkeypatch.setattr(vec, "_table_dir", lambda: tmp_path)

    s = vec.plans(_params(spec, vectors=10, sequences=1, exhaustive=False, sample=16))[-1]
    assert s.name == "worst_case_magnitude" and s.fixed
    lens = np.diff(np.r_[0, np.flatnonzero(s.last) + 1])
    assert (lens == WORST_PRODUCTS).all() and len(lens) >= 3
    assert vec.cross_check(s, np.random.default_rng(0)) == len(lens)  # every output
