"""LogicPIMUnit: reference semantics vs models/, then the RTL in Verilator behind a DRAM model
and a stalling consumer (bit-exact results, measured cycles / sustained bytes per cycle)."""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.hw.pim import DramModel, PimUnitConfig, PimVerify, run_pim_tb
from mixforge.hw.pim.config import (
    A_FORMATS,
    BITS,
    FORMAT_NAMES,
    W_FORMATS,
    load_pim_file,
    mode_code,
    pair_supported,
)
from mixforge.hw.pim.reference import (
    CANONICAL_NAN,
    NEG_INF,
    POS_INF,
    edge_codes,
    random_operands,
    reference_job,
)
from mixforge.models.gemm import gemm


def _load_oracle() -> ModuleType:
    """tests/models/oracle.py (the Fraction oracle, imports nothing from mixforge.models)."""
    spec = importlib.util.spec_from_file_location(
        "pim_fraction_oracle", Path(__file__).resolve().parents[1] / "models" / "oracle.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


oracle = _load_oracle()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pim" / "logic_pim_unit.yaml"
CFG = PimUnitConfig(banks=4, burst_bits=64, max_tokens=8, max_k_words=16)
PAIRS = [(w, a) for w in ("int4", "int8", "fp4", "posit8") for a in ("int8", "fp16")]
# every weight x activation pair, tokens 1 / 3 / 8, K not a multiple of a word or a beat
JOBS = tuple((f"gemv_{w}", t, k, n, a) for (w, a), (t, k, n) in
             zip(PAIRS, [(4, 96, 3), (1, 200, 2), (3, 17, 2), (8, 40, 2),
                         (1, 130, 3), (3, 64, 2), (8, 33, 2), (2, 1, 1)], strict=True)) + \
    (("attn_int8", 8, 40, 5), ("attn_int8", 4, 64, 3, "fp16"), ("attn_fp4", 1, 1, 1))


def _gemm_oracle(w_fmt: str, a_fmt: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The independent path: models.gemm with exact accumulation (int32 for INT x INT8)."""
    out = "int32" if CFG.int_output(w_fmt, a_fmt) else "float32"
    g = gemm(x.astype(np.uint64), w.astype(np.uint64), FORMAT_NAMES[a_fmt], FORMAT_NAMES[w_fmt],
             out, accumulate="exact").astype(np.int64)
    return np.where(g >= 1 << 31, g - (1 << 32), g) if out == "int32" else g


@pytest.mark.parametrize("w_fmt,a_fmt", PAIRS)
def test_reference_equals_models_gemm(w_fmt: str, a_fmt: str) -> None:
    """Every weight code times every INT8 activation (or 512 FP16 ones), and long random sums."""
    rng = np.random.default_rng(7)
    wb = 4 if w_fmt in ("int4", "fp4") else 8
    codes = np.arange(1 << wb, dtype=np.int64)
    if w_fmt == "posit8":
        codes = codes[codes != 0x80]
    acts = np.arange(256, dtype=np.int64) if a_fmt == "int8" else \
        random_operands("int8", "fp16", 512, 1, 1, rng)[0][:, 0]
    x, w = acts[:, None], codes[None, :]
    assert np.array_equal(reference_job(CFG, w_fmt, a_fmt, x, w), _gemm_oracle(w_fmt, a_fmt, x, w))
    x, w = random_operands(w_fmt, a_fmt, 4, CFG.max_k(a_fmt), 5, rng)
    assert np.array_equal(reference_job(CFG, w_fmt, a_fmt, x, w), _gemm_oracle(w_fmt, a_fmt, x, w))


def test_reference_special_values() -> None:
    """NaR / NaN / +-inf inputs: NaN for NaN or 0*inf, +-inf for an infinite product, NaN for
    both infinite signs; the other results stay finite and equal models.gemm."""
    rng = np.random.default_rng(3)
    x, w = random_operands("posit8", "fp16", 3, 50, 4, rng, specials=True)
    y = reference_job(CFG, "posit8", "fp16", x, w)
    assert np.array_equal(y, _gemm_oracle("posit8", "fp16", x, w))
    nar_col = (w == 0x80).any(axis=0)
    assert nar_col[0] and (y[:, 0] == CANONICAL_NAN).all()
    nonfinite_row = ((x & 0x7C00) == 0x7C00).any(axis=1)
    fin = ~nonfinite_row[:, None] & ~nar_col[None, :]
    assert ((y[fin] & 0x7F800000) != 0x7F800000).all()
    x = np.array([[0x7C00, 0x3C00], [0x7C00, 0xFC00], [0xFC00, 0x0000], [0x8000, 0x3C00]])
    w = np.array([[0x40, 0x00], [0x40, 0x40]])  # posit8 1.0 and 0
    y = reference_job(CFG, "posit8", "fp16", x, w)
    assert [int(v) for v in y[:, 0]] == [POS_INF, CANONICAL_NAN, NEG_INF, 0x3F800000]
    assert [int(v) for v in y[:, 1]] == [CANONICAL_NAN] * 3 + [0x3F800000]  # inf * 0


NEW_PAIRS = [(w, a) for w in W_FORMATS for a in A_FORMATS
             if pair_supported(w, a) and (w, a) not in PAIRS]


@pytest.mark.parametrize("w_fmt,a_fmt", NEW_PAIRS)
def test_reference_new_pairs_equal_models_gemm(w_fmt: str, a_fmt: str) -> None:
    """FP8 / FP16 / BF16 pairs: random values, every edge value and every special, and the
    longest K the buffer holds, equal models.gemm(accumulate="exact")."""
    cfg = PimUnitConfig(w_formats=(w_fmt,), a_formats=(a_fmt,))
    rng = np.random.default_rng(hash((w_fmt, a_fmt)) % 1000)
    edges_w = np.array(edge_codes(w_fmt), np.int64)
    edges_a = np.array(edge_codes(a_fmt), np.int64)
    assert np.array_equal(reference_job(cfg, w_fmt, a_fmt, edges_a[:, None], edges_w[None, :]),
                          _gemm_oracle(w_fmt, a_fmt, edges_a[:, None], edges_w[None, :]))
    if BITS[w_fmt] == BITS[a_fmt] == 8:  # every FP8 x 8-bit product (2**16 pairs)
        codes = np.arange(256, dtype=np.int64)
        assert np.array_equal(reference_job(cfg, w_fmt, a_fmt, codes[:, None], codes[None, :]),
                              _gemm_oracle(w_fmt, a_fmt, codes[:, None], codes[None, :]))
    for tokens, k, n, sp in ((3, 40, 4, True), (2, cfg.max_k(a_fmt), 3, False)):
        x, w = random_operands(w_fmt, a_fmt, tokens, k, n, rng, specials=sp)
        assert np.array_equal(reference_job(cfg, w_fmt, a_fmt, x, w),
                              _gemm_oracle(w_fmt, a_fmt, x, w))


def _fraction_dot(w_fmt: str, a_fmt: str, xs: list[int], ws: list[int]) -> int:
    """Independent oracle (tests/models/oracle.py, Fractions): the exact dot rounded once."""
    vals = [(oracle.decode(FORMAT_NAMES[a_fmt], a), oracle.decode(FORMAT_NAMES[w_fmt], b))
            for a, b in zip(xs, ws, strict=True)]
    infs = set()
    total = Fraction(0)
    for va, vb in vals:
        if "nan" in (va, vb):
            return CANONICAL_NAN
        if isinstance(va, str) or isinstance(vb, str):
            other = vb if isinstance(va, str) else va
            if other == 0:
                return CANONICAL_NAN
            neg = (str(va).startswith("-") or (not isinstance(va, str) and va < 0)) != \
                (str(vb).startswith("-") or (not isinstance(vb, str) and vb < 0))
            infs.add(neg)
        else:
            total += va * vb
    if infs:
        return CANONICAL_NAN if len(infs) == 2 else (NEG_INF if True in infs else POS_INF)
    return oracle.encode("float32", total)


@pytest.mark.parametrize("w_fmt,a_fmt", [("bf16", "bf16"), ("fp16", "bf16"),
                                         ("fp8_e4m3", "fp8_e5m2"), ("fp8_e5m2", "fp16")])
def test_reference_against_fraction_oracle(w_fmt: str, a_fmt: str) -> None:
    rng = np.random.default_rng(5)
    x, w = random_operands(w_fmt, a_fmt, 4, 24, 4, rng, specials=True)
    y = reference_job(PimUnitConfig(w_formats=(w_fmt,), a_formats=(a_fmt,)), w_fmt, a_fmt, x, w)
    for b in range(4):
        for j in range(4):
            want = _fraction_dot(w_fmt, a_fmt, x[b].tolist(), w[:, j].tolist())
            assert int(y[b, j]) == want, (b, j, hex(int(y[b, j])), hex(want))


@pytest.mark.rtl
@pytest.mark.icarus
def test_ideal_dram_runs_at_ideal_cycles(sim: str) -> None:
    """Data always there (latency 1, no misses, no stalls, consumer always ready): one
    operation per cycle, every format pair bit-exact."""
    plan = PimVerify(jobs=JOBS, dram=DramModel(latency=1, row_miss=0, queue=4), seed=3)
    run = run_pim_tb(CFG, plan, sim=sim)
    assert run.passed, run.failures
    assert len(run.jobs) == len(JOBS)
    for j in run.jobs:
        assert j["mismatches"] == 0
        assert j["cycles"] == j["ideal_cycles"], j
        assert j["starved_cycles"] == 0 and j["out_held_cycles"] == 0
        # a beat is held for `tokens` operations (x2 for 4-bit weights x FP16): the PimSpec
        # throughput sim/ uses (hw/specs/pim.py)
        subs = CFG.subs(j["w_fmt"], j["a_fmt"])
        assert j["bytes_per_cycle"] == pytest.approx(CFG.width / 8 / j["tokens"] / subs)
        assert j["bytes_per_cycle"] == pytest.approx(
            CFG.spec.bytes_per_cycle(j["w_fmt"], j["a_fmt"], j["tokens"]))
    assert sum(j["nan_results"] for j in run.jobs) > 0  # the NaN path was exercised


@pytest.mark.rtl
def test_back_pressure_with_dram_misses_and_stalls(sim: str) -> None:
    """A consumer ready 40 % of the cycles together with DRAM latency, row misses and stalls:
    still bit-exact, in order, no result lost or repeated, ``w.ready`` low while one waits."""
    dram = DramModel(latency=12, row_bytes=256, row_miss=9, queue=8, stall=0.2)
    jobs = JOBS[:8] + (("gemv_int4", 2, 256, 8),)
    run = run_pim_tb(CFG, PimVerify(jobs=jobs, dram=dram, out_ready=0.4, seed=5), sim=sim)
    assert run.passed, run.failures
    assert all(j["mismatches"] == 0 for j in run.jobs)
    assert sum(j["out_held_cycles"] for j in run.jobs) > 20
    big = run.jobs[-1]
    assert big["row_misses"] > 1 and big["dram_stall_cycles"] > 0
    assert big["cycles"] > big["ideal_cycles"]
    assert 0 < big["bytes_per_cycle"] < CFG.width / 8


# the Duplex formats on a small unit (4 lanes): FP8 / FP16 weights x FP16 / FP8 activations;
# both units need their own cold Verilator build (minutes on the shared 2-core machine), so both
# RTL checks are in the slow tier (BF16 also widens the accumulator to ~530 bits)
SMALL = dict(banks=1, burst_bits=32, max_tokens=2, max_k_words=8)
FP_CFG = PimUnitConfig(**SMALL,  # type: ignore[arg-type]
                       w_formats=("fp8_e4m3", "fp8_e5m2", "fp16"),
                       a_formats=("fp16", "fp8_e4m3", "fp8_e5m2"))
BF_CFG = PimUnitConfig(**SMALL, w_formats=("fp8_e4m3", "bf16"),  # type: ignore[arg-type]
                       a_formats=("bf16", "fp16"))


def _fp_jobs(cfg: PimUnitConfig) -> tuple[tuple[str | int, ...], ...]:
    return tuple(job for w, a in cfg.pairs
                 for job in ((f"gemv_{w}", 2, 29, 3, a), (f"attn_{w}", 1, 16, 2, a)))


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", [pytest.param(FP_CFG, marks=pytest.mark.slow),
                                 pytest.param(BF_CFG, marks=pytest.mark.slow)],
                         ids=["fp8_fp16", "bf16"])
def test_duplex_formats_bit_exact(cfg: PimUnitConfig) -> None:
    """Every FP8 / FP16 / BF16 pair with edge values (signed zeros, subnormals, extremes),
    NaN, +-inf, 0*inf and opposite infinities, behind DRAM stalls and a stalling consumer."""
    plan = PimVerify(jobs=_fp_jobs(cfg), dram=DramModel(latency=3, row_miss=2, stall=0.1),
                     out_ready=0.7, seed=2)
    run = run_pim_tb(cfg, plan)
    assert run.passed, run.failures
    assert len(run.jobs) == len(plan.jobs) and all(j["mismatches"] == 0 for j in run.jobs)
    assert sum(j["nan_results"] for j in run.jobs) > 0
    assert sum(j["inf_results"] for j in run.jobs) > 0
    # data always ready: one operation per cycle, the structural bytes/cycle of every pair
    ideal = run_pim_tb(cfg, PimVerify(jobs=_fp_jobs(cfg)[::2], seed=4,
                                      dram=DramModel(latency=1, row_miss=0, queue=4)))
    assert ideal.passed, ideal.failures
    for j in ideal.jobs:
        assert j["cycles"] == j["ideal_cycles"], j
        assert j["bytes_per_cycle"] == pytest.approx(
            cfg.bytes_per_cycle(j["w_fmt"], j["a_fmt"], j["tokens"]))


def test_mode_codes_keep_the_first_units_codes() -> None:
    """The 3-bit codes of INT4/INT8/FP4/posit8 x INT8/FP16 are unchanged; every pair differs."""
    assert [mode_code(w, a) for a in ("int8", "fp16") for w in ("int4", "int8", "fp4", "posit8")
            ] == list(range(8))
    codes = [mode_code(w, a) for w in W_FORMATS for a in A_FORMATS]
    assert len(set(codes)) == len(codes) and max(codes) < 1 << 6
    assert CFG.mode_bits == 3 and FP_CFG.mode_bits == 6
    with pytest.raises(ConfigError, match="16-bit weights need 16-bit activations"):
        PimUnitConfig(w_formats=("fp16",), a_formats=("int8",))
    with pytest.raises(ConfigError, match="gemv_bf16: bf16 weights need 16-bit activations"):
        PimUnitConfig(w_formats=("bf16",), a_formats=("bf16", "int8")).check_job(
            ("gemv_bf16", 1, 8, 1, "int8"), "jobs[0]")


@pytest.mark.parametrize("kw,msg", [
    ({"banks": 3}, "banks: must be a power of two, not 3"),
    ({"burst_bits": 16}, "burst_bits: must be an integer in 32..256, not 16"),
    ({"max_tokens": 17}, "max_tokens: must be an integer in 1..16, not 17"),
    ({"w_formats": ("int4", "fp8")}, r"w_formats\[1\]: must be one of int4, int8, fp4, posit8"),
    ({"a_formats": ()}, "a_formats: must list at least one format"),
])
def test_bad_pim_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        PimUnitConfig(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("job,msg", [
    (("fp4", 1, 1, 1), r"jobs\[0\]: mode must be one of"),
    (("gemv_int4", 1, 1, 1, "fp32"), r"jobs\[0\]: act must be one of int8, fp16, bf16"),
    (("gemv_int4", 1, 0, 1), r"jobs\[0\]: tokens, K, N must be positive"),
    (("gemv_int4", 1, 1), r"jobs\[0\]: must be \[mode, tokens, K, N\]"),
])
def test_bad_job(job: tuple[object, ...], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        PimVerify(jobs=(job,))  # type: ignore[arg-type]


def test_unbuilt_format_pair_is_rejected() -> None:
    """Format pairs the lanes were not built for fail before any build, naming the job."""
    small = PimUnitConfig(w_formats=("int4", "int8"), a_formats=("int8",))
    for job, msg in [(("gemv_fp4", 1, 8, 1), r"verify.jobs\[0\]: gemv_fp4: weight format fp4 "
                                             r"is not built"),
                     (("gemv_int4", 1, 8, 1, "fp16"), "activation format fp16 is not built"),
                     (("gemv_int8", 9, 8, 1), "9 tokens exceed max_tokens=8"),
                     (("gemv_int4", 1, 1025, 1), "K=1025 exceeds the activation buffer")]:
        with pytest.raises(ConfigError, match=msg):
            run_pim_tb(small, PimVerify(jobs=(job,)))


@pytest.mark.parametrize("name", ["duplex_formats.yaml", "duplex_formats_small.yaml"])
def test_duplex_examples_load_and_fit(name: str) -> None:
    """The Duplex-format examples: every job fits its unit; together they cover FP8 x FP8,
    FP16 x FP16 and (full example) BF16 x BF16, the modes of examples/hw/duplex.yaml."""
    f = load_pim_file(EXAMPLE.with_name(name))
    pairs = set()
    for i, job in enumerate(f.verify.parsed_jobs):
        f.pim.check_job(job, f"verify.jobs[{i}]")
        pairs.add((job[0].split("_", 1)[1], job[4]))
    assert {("fp16", "fp16"), ("fp8_e4m3", "fp8_e4m3")} <= pairs
    if "bf16" in f.pim.w_formats:
        assert {("bf16", "bf16"), ("int4", "fp16")} <= pairs


def test_example_loads_and_cli_gen(tmp_path: Path) -> None:
    f = load_pim_file(EXAMPLE)
    modes = {(j[0], j[4]) for j in f.verify.parsed_jobs}
    assert {("gemv_fp4", "int8"), ("gemv_posit8", "fp16"), ("attn_int8", "fp16")} <= modes
    small = tmp_path / "small.yaml"  # gen of the example itself: test_cli_verify_json
    small.write_text("schema_version: 1\npim: {banks: 1, burst_bits: 32, max_tokens: 2, "
                     "max_k_words: 4, w_formats: [fp4, posit8], a_formats: [fp16]}\n")
    assert main(["gen", "pim", "--config", str(small), "--out", str(tmp_path)]) == 0
    (v,) = tmp_path.glob("*.v")
    meta = json.loads(v.with_suffix(".json").read_text())
    assert meta["params"]["w_formats"] == ["fp4", "posit8"]
    assert meta["format_pairs"] == {"fp4xfp16": mode_code("fp4", "fp16"),
                                    "posit8xfp16": mode_code("posit8", "fp16")}
    assert "$mul" not in v.read_text() and f"module {meta['toplevel']}" in v.read_text()


@pytest.mark.rtl
def test_cli_verify_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pim.json"
    assert main(["verify", "pim", "--config", str(EXAMPLE), "--json", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["passed"] and len(rec["jobs"]) == len(load_pim_file(EXAMPLE).verify.jobs)
    assert all(j["mismatches"] == 0 and j["bytes_per_cycle"] > 0 for j in rec["jobs"])
    assert "PASS" in capsys.readouterr().out


def test_cli_synth_keeps_the_buffer_a_memory(tmp_path: Path) -> None:
    """The activation buffer is one memory (its bits reported apart), not flip-flops."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text("schema_version: 1\npim: {banks: 1, burst_bits: 32, max_tokens: 2, "
                   "max_k_words: 8, w_formats: [int4, int8], a_formats: [int8]}\n")
    out = tmp_path / "area.json"
    assert main(["synth", "pim", "--config", str(cfg), "--json", str(out)]) == 0
    st = json.loads(out.read_text())
    assert st["memories"] == 1 and st["memory_bits"] == 2 * 8 * 64 == st["buffer_bits"]
    assert not st["has_mul"] and st["cmos_transistors"] > 0
    # without the buffer in flip-flops: accumulators (2 x 27), beat register, control only
    assert st["flip_flops"] < 200 and 0 < st["cells"] < 5000


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_sweep(seed: int) -> None:
    """Random jobs of every format pair and mode, random DRAM timing and consumer stalls."""
    rng = np.random.default_rng(seed)
    jobs = []
    for op in ("gemv", "attn"):
        for w, a in PAIRS:
            k = int(rng.integers(1, CFG.max_k(a) - 63))
            jobs.append((f"{op}_{w}", int(rng.integers(1, 9)), k, int(rng.integers(1, 6)), a))
    dram = DramModel(latency=int(rng.integers(1, 20)), row_bytes=512,
                     row_miss=int(rng.integers(0, 12)), queue=int(rng.integers(1, 16)),
                     stall=float(rng.uniform(0, 0.4)))
    plan = PimVerify(jobs=tuple(jobs), dram=dram, out_ready=float(rng.uniform(0.2, 1.0)),
                     seed=seed)
    run = run_pim_tb(CFG, plan)
    assert run.passed, run.failures
    assert all(j["mismatches"] == 0 for j in run.jobs)
