"""``mixforge gen|verify|synth pe`` and the PE YAML configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge.cli import main
from mixforge.errors import ConfigError
from mixforge.hw.pe.specs import MultiFormatSpec, ShiftAddSpec, load_pe_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pe"
NAMES = ["shift_add_w4a8", "shift_add_w4a8_parallel", "shift_add_w4a16", "shift_add_w4a16_parallel",
         "mul_w4a8", "mul_w4a8_serial_readout", "fp16_mac_w4a16", "multiformat", "shared_quire",
         "separate_units"]


@pytest.mark.parametrize("name", NAMES)
def test_examples_load_and_generate(tmp_path: Path, name: str) -> None:
    cfg = load_pe_config(EXAMPLES / f"{name}.yaml")
    assert cfg.name == name
    assert main(["gen", "pe", "--config", str(EXAMPLES / f"{name}.yaml"), "--out",
                 str(tmp_path)]) == 0
    meta = json.loads((tmp_path / f"{name}.json").read_text())
    assert meta["toplevel"] == name and meta["params"]["kind"] == cfg.spec.kind
    assert meta["latency"] == cfg.spec.latency and meta["throughput"] == 1.0
    assert f"module {name}" in (tmp_path / f"{name}.v").read_text()


def test_example_parameters() -> None:
    assert load_pe_config(EXAMPLES / "shift_add_w4a8.yaml").spec == ShiftAddSpec(
        k=4, act="int8", group=128, out="float32", dequant="serial")
    assert load_pe_config(EXAMPLES / "shift_add_w4a8_parallel.yaml").spec == ShiftAddSpec(
        k=4, act="int8", group=128, out="float32", dequant="parallel")
    w4a16 = load_pe_config(EXAMPLES / "shift_add_w4a16.yaml").spec
    assert isinstance(w4a16, ShiftAddSpec) and (w4a16.act, w4a16.dequant) == ("fp16", "serial")
    assert load_pe_config(EXAMPLES / "multiformat.yaml").spec == MultiFormatSpec()


@pytest.mark.parametrize("body,msg", [
    ("name: x\npe: {kind: shift_add, k: 0}\n", "pe.k: must be one of 2, 3, 4, 8, not 0"),
    ("name: x\npe: {kind: shift_add, group: 0}\n", "pe.group: must be in 1..4096, not 0"),
    ("name: x\npe: {kind: shift_add, lanes: 6}\n", "pe.lanes: unknown key"),
    ("name: x\npe: {kind: systolic}\n", "pe.kind: must be one of shift_add"),
    ("name: 3x\npe: {kind: multiformat}\n", "name: must be a Verilog identifier"),
    ("name: x\npe: {kind: multiformat, out: posit8_es0}\n", "pe.out: must be one of"),
])
def test_bad_configs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                            msg: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("schema_version: 1\n" + body)
    with pytest.raises(ConfigError, match=msg):
        load_pe_config(f)
    assert main(["gen", "pe", "--config", str(f), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{f}: " in err and msg.split(":")[0] in err


def test_missing_schema_version(tmp_path: Path) -> None:
    f = tmp_path / "nov.yaml"
    f.write_text("name: x\npe: {kind: multiformat}\n")
    assert main(["gen", "pe", "--config", str(f), "--out", str(tmp_path)]) == 2


@pytest.mark.rtl
def test_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = EXAMPLES / "shift_add_w4a8.yaml"
    out = tmp_path / "v.json"
    assert main(["verify", "pe", "--config", str(cfg), "--sequences", "5", "--vectors", "2000",
                 "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["mismatches"] == 0 and summary["vectors"] >= 4096 + 2000 // 10
    assert {r["test"] for r in summary["records"]} == {
        "products_WxA_exhaustive", "scaled_random", "sequences_backpressure",
        "worst_case_magnitude"}
    text = capsys.readouterr().out
    assert "0 mismatches" in text and "vectors/s end to end" in text
    # a corrupted expectation must be reported in hex and fail the command with exit 1
    import mixforge.hw.pe.build as build

    real = build.run_pe_fast

    def corrupt(spec, **kw):  # type: ignore[no-untyped-def]
        kw["tb_params"] = {**kw["tb_params"], "corrupt_expected": True}
        return real(spec, **kw)

    monkeypatch.setattr(build, "run_pe_fast", corrupt)
    assert main(["verify", "pe", "--config", str(cfg), "--sequences", "5", "--vectors",
                 "2000"]) == 1
    text = capsys.readouterr().out
    assert "w=0x0 a=0x0 -> got 0x0 expected 0x1" in text


@pytest.mark.rtl
@pytest.mark.icarus
def test_verify_on_every_simulator(sim: str, tmp_path: Path) -> None:
    """`--sim icarus` runs the same harness when Icarus is installed."""
    out = tmp_path / "v.json"
    assert main(["verify", "pe", "--config", str(EXAMPLES / "mul_w4a8.yaml"), "--sim", sim,
                 "--vectors", "1000", "--sequences", "4", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["sim"] == sim and summary["mismatches"] == 0 and summary["failed"] == 0
    assert summary["vectors"] >= 4096 + 1000


def test_verify_rejects_negative_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "pe", "--config", str(EXAMPLES / "mul_w4a8.yaml"), "--vectors",
                 "-1"]) == 2
    assert "--vectors: must be >= 0, not -1" in capsys.readouterr().err


@pytest.mark.slow
def test_synth_generic_json(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    assert main(["synth", "pe", "--config", str(EXAMPLES / "shift_add_w4a8.yaml"), "--json",
                 str(out)]) == 0
    fig = json.loads(out.read_text())
    assert fig["cmos_transistors"] > 0 and "$mul" not in fig["cells_by_type"]
    assert set(fig["parts"]) == {"core", "dequant"}


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_missing_simulator_gives_doctor_hint(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             simulator: str) -> None:
    from mixforge import toolchain

    monkeypatch.setattr(toolchain, "simulator_available", lambda name: False)
    assert main(["verify", "pe", "--config", str(EXAMPLES / "multiformat.yaml"), "--sim",
                 simulator]) == 2
    err = capsys.readouterr().err
    assert f"simulator '{simulator}' not found" in err and "mixforge doctor" in err
    assert "Traceback" not in err
