"""ShiftAddPE with the amortised (multi-cycle) dequantization unit, ``dequant: serial``, and
its like-for-like baseline, DequantFirstPE with ``readout: serial`` (serial tensor-scale unit).

Bit-exactness against ``mixforge.models.pe.shift_add_pe`` / ``dequant_first_pe`` through the
free-running harness (``run_pe_fast`` / ``mixforge verify pe``: exhaustive W x A at full rate
with the spec's stall and latency model checked on every output, scaled random singles,
accumulation sequences with back-pressure, groups shorter than S, Inf/NaN scales and
activations); the specs' timing models (latency, throughput, accept edges) against a
cycle-by-cycle Amaranth simulation; parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.hw.pe.baselines import DequantFirstPE
from mixforge.hw.pe.build import run_pe_fast
from mixforge.hw.pe.shift_add import ShiftAddPE, shift_add_layout
from mixforge.hw.pe.specs import DequantFirstSpec, ShiftAddSpec, load_pe_config
from mixforge.models import pe as ref

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pe"
EXAMPLE = EXAMPLES / "shift_add_w4a8.yaml"
BASE_EXAMPLE = EXAMPLES / "mul_w4a8_serial_readout.yaml"
SERIAL = [ShiftAddSpec(k=4, act="fp16", group=16, out="float32", dequant="serial")]
SERIAL_SLOW = [ShiftAddSpec(k=2, act="int8", group=4, out="float16", ternary=True,
                            dequant="serial"),
               ShiftAddSpec(k=3, act="int8", group=5, out="float32", dequant="serial"),
               ShiftAddSpec(k=8, act="int8", group=128, out="float16", dequant="serial"),
               ShiftAddSpec(k=8, act="fp16", group=32, out="float16", dequant="serial")]


def _ids(s: ShiftAddSpec) -> str:
    return f"k{s.k}{'t' if s.ternary else ''}-{s.act}-g{s.group}-{s.out}"


def _check(spec: ShiftAddSpec | DequantFirstSpec, name: str, vectors: int, sequences: int
           ) -> None:
    res = run_pe_fast(spec, name=name, tb_params={"vectors": vectors, "sequences": sequences})
    assert res.tests == 1 and res.failed == 0, res.failures
    recs = {r["test"]: r for r in res.records}
    assert all(r["mismatches"] == 0 and not r["timing_errors"] for r in recs.values()), recs
    if spec.kind != "shift_add" or spec.act == "int8":  # every (w, a) pair, a unit per output
        assert recs["products_WxA_exhaustive"]["outputs"] == 256 << spec.k
    else:  # includes the Inf/NaN scales and activations of the edge tables
        assert recs["fp16_edges"]["outputs"] >= 27 * 8 << spec.k
        # serial unit: each random output sums S..2S products (tb_pe_vectors._random_last)
        n_out = recs["fp16_random"]["outputs"]
        assert vectors // (2 * spec.group_cycles + 1) <= n_out <= vectors // spec.group_cycles + 1
    assert recs["sequences_backpressure"]["outputs"] == sequences


@pytest.mark.parametrize("path", [EXAMPLE, BASE_EXAMPLE], ids=lambda p: p.stem)
def test_examples_generate(tmp_path: Path, path: Path) -> None:
    import json

    cfg = load_pe_config(path)
    assert main(["gen", "pe", "--config", str(path), "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / f"{cfg.name}.json").read_text())
    assert meta["latency"] == cfg.spec.latency and meta["throughput"] == 1.0
    assert meta["params"].get("dequant", meta["params"].get("readout")) == "serial"


def test_example_config() -> None:
    spec = load_pe_config(EXAMPLE).spec
    assert spec == ShiftAddSpec(k=4, act="int8", group=128, out="float32", dequant="serial")
    assert (spec.group_cycles, spec.latency, spec.throughput) == (30, 34, 1.0)
    base = load_pe_config(BASE_EXAMPLE).spec
    assert base == DequantFirstSpec(k=4, out="float32", readout="serial")
    assert (base.group_cycles, base.latency, base.throughput) == (21, 27, 1.0)


@pytest.mark.rtl
def test_example_verifies_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """``mixforge verify pe`` on the serial example: exit 0, every path matched."""
    assert main(["verify", "pe", "--config", str(EXAMPLE), "--vectors", "5000",
                 "--sequences", "40"]) == 0
    out = capsys.readouterr().out
    assert "0 mismatches" in out and "products_WxA_exhaustive" in out, out


@pytest.mark.rtl
@pytest.mark.parametrize("spec", SERIAL, ids=_ids)
def test_serial_dequant_pe(spec: ShiftAddSpec) -> None:
    # groups of 16 < S = 34: the unit is busy when the next group closes (input stalls)
    assert spec.group < spec.group_cycles
    _check(spec, "sa_serial_pe", 5_000, 30)


@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("spec", SERIAL_SLOW, ids=_ids)
def test_serial_dequant_more_configs(spec: ShiftAddSpec) -> None:
    _check(spec, "sa_serial_pe", 100_000, 60)


@pytest.mark.rtl
def test_serial_readout_baseline_verifies() -> None:
    """The baseline's serial tensor-scale readout: short sequences (1, 2, ...) stall the input."""
    spec = load_pe_config(BASE_EXAMPLE).spec
    _check(spec, "mul_w4a8_serial_readout", 5_000, 40)


# --------------------------------------------------------------- timing against a simulation


def _simulate(spec: ShiftAddSpec | DequantFirstSpec, cols: dict[str, np.ndarray],
              ready: list[int] | None = None) -> tuple[list[int], list[int], list[int]]:
    """Cycle-by-cycle Amaranth simulation: input always valid, ``o.ready`` per edge (default
    always). Returns (accept edges, output capture edges, output patterns)."""
    from amaranth.sim import Simulator

    dut = ShiftAddPE(spec=spec) if spec.kind == "shift_add" else DequantFirstPE(spec=spec)
    n, n_out = len(cols["w"]), int(np.sum(cols["last"]))
    ins: list[int] = []
    outs: list[int] = []
    got: list[int] = []

    async def bench(ctx):  # type: ignore[no-untyped-def]
        t, j = 0, 0
        while len(got) < n_out:
            assert t < 60 * (n + 1) + 200, "no progress"
            ctx.set(dut.o.ready, 1 if ready is None else ready[t % len(ready)])
            ctx.set(dut.i.valid, int(j < n))
            if j < n:
                for f, v in cols.items():
                    ctx.set(getattr(dut.i.payload, f), int(v[j]))
            acc_in = j < n and ctx.get(dut.i.ready)
            out_v, out_p, out_r = ctx.get(dut.o.valid), ctx.get(dut.o.payload), ctx.get(
                dut.o.ready)
            await ctx.tick()
            if acc_in:
                ins.append(t)
                j += 1
            if out_v and out_r:
                outs.append(t)
                got.append(int(out_p))
            t += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return ins, outs, got


def _sequences(spec: ShiftAddSpec, lengths: list[int], seed: int
               ) -> tuple[dict[str, np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {f: [] for f in ("w", "a", "scale", "zero", "last")}
    want = []
    for n in lengths:
        c = {"w": rng.integers(0, 1 << spec.k, n), "a": rng.integers(0, 256, n),
             "scale": rng.integers(0x2000, 0x5000, n) | (rng.integers(0, 2, n) << 15),
             "zero": rng.integers(0, 256, n), "last": (np.arange(n) == n - 1).astype(int)}
        for f, v in c.items():
            parts[f].append(v)
        want.append(ref.shift_add_pe(c["w"], c["a"], c["scale"], c["zero"], k=spec.k,
                                     act=spec.act, group=spec.group, out=spec.out))
    return {f: np.concatenate(v) for f, v in parts.items()}, want


@pytest.mark.parametrize("group,lengths", [
    (32, [96, 64, 32]),        # groups >= S = 30: one product per cycle, ready never drops
    (4, [1, 9, 1, 4, 3]),      # groups < S: the closing element waits for the busy unit
])
def test_latency_and_throughput_match_simulation(group: int, lengths: list[int]) -> None:
    spec = ShiftAddSpec(k=4, act="int8", group=group, out="float32", dequant="serial")
    cols, want = _sequences(spec, lengths, seed=group)
    ins, outs, got = _simulate(spec, cols)
    want_in, want_out = spec.full_rate_stamps(cols["last"].tolist())
    assert got == want
    assert ins == want_in and outs == want_out
    assert outs[0] - ins[lengths[0] - 1] == spec.latency  # the unit was idle: `latency`
    if group >= spec.group_cycles:
        assert ins == list(range(sum(lengths)))  # throughput 1.0
    else:  # steady state: one group per S cycles
        assert spec.throughput == group / spec.group_cycles
        assert ins[1] - ins[0] == 1  # the unit takes the first group; stage 1 moves on
        assert ins[5] - ins[1] == ins[9] - ins[5] == spec.group_cycles  # one group per S


def test_output_back_pressure_changes_nothing() -> None:
    spec = ShiftAddSpec(k=4, act="int8", group=4, out="float16", dequant="serial")
    cols, want = _sequences(spec, [1, 1, 5, 2, 8], seed=3)
    _, _, got = _simulate(spec, cols, ready=[1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1])
    assert got == want


def test_baseline_serial_readout_timing_matches_simulation() -> None:
    spec = DequantFirstSpec(k=4, readout="serial")
    rng = np.random.default_rng(5)
    lengths = [1, 1, 3, 30, 1, 14, 2]
    parts: dict[str, list[np.ndarray]] = {f: [] for f in ("w", "a", "sm", "zero", "tscale",
                                                           "last")}
    want = []
    for n in lengths:
        c = {"w": rng.integers(0, 16, n), "a": rng.integers(0, 256, n),
             "sm": rng.integers(0, 256, n), "zero": rng.integers(0, 256, n),
             "tscale": rng.integers(0, 0x7C00, n) | (rng.integers(0, 2, n) << 15),
             "last": (np.arange(n) == n - 1).astype(int)}
        for f, v in c.items():
            parts[f].append(v)
        want.append(ref.dequant_first_pe(c["w"], c["a"], c["sm"], c["zero"], c["tscale"], k=4,
                                         out="float32"))
    cols = {f: np.concatenate(v) for f, v in parts.items()}
    ins, outs, got = _simulate(spec, cols)
    assert got == want
    assert (ins, outs) == spec.full_rate_stamps(cols["last"].tolist())
    assert outs[0] - ins[0] == spec.latency == 27
    # element 1 waits in stage 3 until the unit (loaded at edge 3) is free at 3 + S: the input
    # holds meanwhile
    assert ins[:5] == [0, 1, 2, 3, 3 + spec.group_cycles]
    # the 30-element sequence (elements 5..34) flows at one per cycle once element 4 (the end
    # of the previous sequence, waiting in stage 3) has been handed over
    assert ins[7:35] == list(range(ins[7], ins[7] + 28))
    assert DequantFirstSpec().full_rate_stamps([1, 1, 0, 1]) == ([0, 1, 2, 3], [6, 7, 9])


def test_parallel_stamps_are_one_per_cycle() -> None:
    spec = ShiftAddSpec()
    ins, outs = spec.full_rate_stamps([0, 1, 1, 0, 0, 1])
    assert ins == list(range(6)) and outs == [1 + 7, 2 + 7, 5 + 7]
    assert (spec.group_cycles, spec.latency, spec.throughput) == (1, 7, 1.0)


def test_serial_layout_and_ports_unchanged() -> None:
    ser = ShiftAddSpec(dequant="serial")
    assert shift_add_layout(ser) == shift_add_layout(ShiftAddSpec())
    assert ser.throughput == 1.0 and ShiftAddSpec(group=15, dequant="serial").throughput < 1


# --------------------------------------------------------------- parameters


def test_bad_dequant_parameter() -> None:
    with pytest.raises(ConfigError, match="dequant: must be one of parallel, serial, not 'fast'"):
        ShiftAddPE(dequant="fast")


def test_bad_readout_parameter() -> None:
    with pytest.raises(ConfigError, match="readout: must be one of parallel, serial, not 'x'"):
        DequantFirstPE(readout="x")


def test_bad_dequant_in_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("schema_version: 1\nname: x\npe: {kind: shift_add, dequant: fast}\n")
    with pytest.raises(ConfigError, match="pe.dequant: must be one of parallel, serial, not"):
        load_pe_config(f)
    assert main(["gen", "pe", "--config", str(f), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: " in err and "pe.dequant" in err
