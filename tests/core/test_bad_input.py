"""The bad-input corpus: every malformed input gets ONE line on stderr, exit code 2, no traceback,
names the file or the flag (and the field), and leaves no partial output file behind.

Each case builds its inputs in a fresh folder, runs ``mixforge.cli.main`` in-process, and checks
the contract. Cases never reach a simulator or Yosys (they must fail before any of that work).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mixforge.cli import main

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
HW = str(EX / "hw" / "ws32.yaml")
PE = str(EX / "pe" / "shift_add_w4a8.yaml")
ARRAY = str(EX / "array" / "ws_4x4_w4a8.yaml")
PIM = str(EX / "pim" / "logic_pim_unit.yaml")
MUL = str(EX / "primitives" / "mul8x8.yaml")
NOT_CREATABLE = "/proc/mixforge-no/x"  # /proc refuses new folders, even to root


@dataclass
class Case:
    """``argv`` with ``{d}`` replaced by the case's folder; ``files`` written there first."""

    argv: list[str]
    names: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def _hw(text: str) -> dict[str, str | bytes]:
    return {"hw.yaml": text}


_WS32 = (EX / "hw" / "ws32.yaml").read_text()
_PE = (EX / "pe" / "shift_add_w4a8.yaml").read_text()
_ARRAY = (EX / "array" / "ws_4x4_w4a8.yaml").read_text()
_PIM = (EX / "pim" / "logic_pim_unit.yaml").read_text()
_MUL = (EX / "primitives" / "mul8x8.yaml").read_text()
_GARBAGE = bytes(range(128, 256)) * 3  # 384 bytes that are not UTF-8
_SIM = ["sim", "op", "--hw", "{d}/hw.yaml", "--gemm", "64,64,64"]
_SIM_OK = ["sim", "op", "--hw", HW]


def _no_nextpnr(mp: pytest.MonkeyPatch) -> None:
    import mixforge.hw.pe.synth as synth

    mp.setattr(synth, "_nextpnr_exe", lambda: None)


CASES: dict[str, Case] = {
    # --- config files: hardware YAML (sim op --hw)
    "hw-binary-garbage": Case(_SIM, ["hw.yaml", "not a text file"], _hw(_GARBAGE)),  # type: ignore[arg-type]
    "hw-duplicate-key": Case(_SIM, ["hw.yaml", "duplicate key 'name'"],
                             _hw(_WS32 + "name: again\n")),
    "hw-no-schema": Case(_SIM, ["hw.yaml", "schema_version"],
                         _hw(_WS32.replace("schema_version: 1\n", ""))),
    "hw-future-schema": Case(_SIM, ["hw.yaml", "schema_version"],
                             _hw(_WS32.replace("schema_version: 1", "schema_version: 9"))),
    "hw-unknown-key": Case(_SIM, ["hw.yaml", "xpu.frequency"],
                           _hw(_WS32.replace("freq_hz:", "frequency:"))),
    "hw-negative-rows": Case(_SIM, ["hw.yaml", "xpu.array.rows"],
                             _hw(_WS32.replace("rows: 32", "rows: -4"))),
    "hw-rows-not-int": Case(_SIM, ["hw.yaml", "xpu.array.rows"],
                            _hw(_WS32.replace("rows: 32", "rows: many"))),
    "hw-yaml-syntax": Case(_SIM, ["hw.yaml", "line"], _hw(_WS32 + "xpu: [unclosed\n")),
    "hw-top-level-list": Case(_SIM, ["hw.yaml", "mapping"], _hw("- 1\n- 2\n")),
    "hw-empty-file": Case(_SIM, ["hw.yaml", "mapping"], _hw("")),
    "hw-missing-file": Case(["sim", "op", "--hw", "{d}/nope.yaml", "--gemm", "1,1,1"],
                            ["nope.yaml", "no such file"]),
    "hw-is-a-folder": Case(["sim", "op", "--hw", "{d}", "--gemm", "1,1,1"], ["folder"]),
    "hw-unknown-preset": Case(_SIM, ["hw.yaml", "hbm.preset"],
                              _hw(_WS32.replace("preset: hbm2e", "preset: hbm9"))),
    "hw-unknown-pe-format": Case(_SIM, ["hw.yaml", "modes[0].w"],
                                 _hw(_WS32.replace("{w: int8, a: int8", "{w: int3x, a: int8"))),
    "hw-missing-pe-rtl": Case(_SIM_OK + ["--gemm", "8,8,8", "--pe-rtl", "{d}/nope.json"],
                              ["nope.json"]),
    # --- config files: PE, array, PIM, primitive
    "pe-binary-garbage": Case(["gen", "pe", "--config", "{d}/pe.yaml", "--out", "{d}/o"],
                              ["pe.yaml"], {"pe.yaml": _GARBAGE}, outputs=["o/shift_add_w4a8.v"]),
    "pe-duplicate-key": Case(["gen", "pe", "--config", "{d}/pe.yaml", "--out", "{d}/o"],
                             ["pe.yaml", "duplicate key 'k'"],
                             {"pe.yaml": _PE + "  k: 2\n"}, outputs=["o/shift_add_w4a8.v"]),
    "pe-unknown-key": Case(["gen", "pe", "--config", "{d}/pe.yaml", "--out", "{d}/o"],
                           ["pe.yaml", "pe.groups"],
                           {"pe.yaml": _PE.replace("group: 128", "groups: 128")}),
    "pe-verify-bad-config": Case(["verify", "pe", "--config", "{d}/pe.yaml"], ["pe.yaml"],
                                 {"pe.yaml": _PE.replace("kind: shift_add", "kind: nope")}),
    "pe-synth-bad-config": Case(["synth", "pe", "--config", "{d}/pe.yaml"], ["pe.yaml"],
                                {"pe.yaml": _PE.replace("act: int8", "act: int77")}),
    "array-garbage": Case(["gen", "array", "--config", "{d}/a.yaml", "--out", "{d}/o"],
                          ["a.yaml"], {"a.yaml": _GARBAGE}),
    "array-bad-dataflow": Case(["verify", "array", "--config", "{d}/a.yaml"],
                               ["a.yaml", "array.dataflow"],
                               {"a.yaml": _ARRAY.replace("dataflow: ws", "dataflow: xs")}),
    "array-zero-rows": Case(["synth", "array", "--config", "{d}/a.yaml"],
                            ["a.yaml", "array.rows"],
                            {"a.yaml": _ARRAY.replace("rows: 4", "rows: 0")}),
    "pim-unknown-format": Case(["gen", "pim", "--config", "{d}/p.yaml", "--out", "{d}/o"],
                               ["p.yaml", "pim.w_formats"],
                               {"p.yaml": _PIM.replace("[int4, int8, fp4, posit8]",
                                                       "[int4, int9]")}),
    "pim-duplicate-key": Case(["verify", "pim", "--config", "{d}/p.yaml"],
                              ["p.yaml", "duplicate key 'banks'"],
                              {"p.yaml": _PIM.replace("  banks: 4\n", "  banks: 4\n  banks: 2\n")}),
    "mul-bad-width": Case(["gen", "mul", "--config", "{d}/m.yaml", "--out", "{d}/o"],
                          ["m.yaml", "a_width"],
                          {"m.yaml": _MUL.replace("a_width: 8", "a_width: -8")}),
    # --- flags
    "gemm-negative": Case(_SIM_OK + ["--gemm", "-64,4096,4096"], ["--gemm", "positive"]),
    "gemm-zero": Case(_SIM_OK + ["--gemm", "0,4096,4096"], ["--gemm", "M must be positive"]),
    "gemm-overflow": Case(_SIM_OK + ["--gemm", "999999999999999999999,4096,4096"],
                          ["--gemm", "2^62"]),
    "gemm-not-numbers": Case(_SIM_OK + ["--gemm", "a,b,c"], ["--gemm"]),
    "gemm-two-numbers": Case(_SIM_OK + ["--gemm", "64,64"], ["--gemm"]),
    "batch-zero": Case(_SIM_OK + ["--gemm", "8,8,8", "--batch", "0"], ["--batch"]),
    "batch-not-int": Case(_SIM_OK + ["--gemm", "8,8,8", "--batch", "x"], ["--batch"]),
    "group-negative": Case(_SIM_OK + ["--gemm", "8,8,8", "--group-size", "-1"],
                           ["--group-size"]),
    "formats-unknown": Case(_SIM_OK + ["--gemm", "8,8,8", "--formats", "w=int3x"],
                            ["--formats", "int3x"]),
    "formats-bad-operand": Case(_SIM_OK + ["--gemm", "8,8,8", "--formats", "q=int4"],
                                ["--formats", "'q'"]),
    "formats-unsupported-by-pe": Case(_SIM_OK + ["--gemm", "8,8,8", "--formats", "w=fp16"],
                                      ["float16"]),
    "unit-choice": Case(_SIM_OK + ["--gemm", "8,8,8", "--unit", "gpu"], ["--unit"]),
    "pim-on-device-without": Case(_SIM_OK + ["--gemm", "8,8,8", "--unit", "pim"], ["pim"]),
    "missing-required-flag": Case(["sim", "op", "--hw", HW], ["--gemm"]),
    "unknown-target": Case(["sim", "nope"], ["nope"]),
    "verify-negative-vectors": Case(["verify", "pe", "--config", PE, "--vectors", "-1"],
                                    ["--vectors"]),
    "verify-array-bad-gemm": Case(["verify", "array", "--config", ARRAY, "--gemm", "0,1,1"],
                                  ["--gemm"]),
    "ecp5-without-nextpnr": Case(["synth", "pe", "--config", PE, "--target", "ecp5"],
                                 ["nextpnr", "mixforge[fpga]"], patch=_no_nextpnr),
    # --- output paths: unwritable, folders for files, files for folders
    "json-not-creatable": Case(_SIM_OK + ["--gemm", "8,8,8", "--json", NOT_CREATABLE + ".json"],
                               ["--json", "/proc/mixforge-no"]),
    "json-is-a-folder": Case(_SIM_OK + ["--gemm", "8,8,8", "--json", "{d}"],
                             ["--json", "folder"]),
    "doctor-json-not-creatable": Case(["doctor", "--json", NOT_CREATABLE + ".json"],
                                      ["--json"]),
    "doctor-json-is-a-folder": Case(["doctor", "--json", "{d}"], ["--json", "folder"]),
    "formats-json-is-a-folder": Case(["formats", "--json", "{d}"], ["--json", "folder"]),
    "gen-out-is-a-file": Case(["gen", "pe", "--config", PE, "--out", "{d}/f.txt"],
                              ["--out", "is a file"], {"f.txt": "keep me\n"}),
    "gen-out-not-creatable": Case(["gen", "pe", "--config", PE, "--out", NOT_CREATABLE],
                                  ["--out", "/proc/mixforge-no"]),
    "verify-json-is-a-folder": Case(["verify", "pim", "--config", PIM, "--json", "{d}"],
                                    ["--json", "folder"]),
    "synth-json-not-creatable": Case(["synth", "array", "--config", ARRAY, "--json",
                                      NOT_CREATABLE + ".json"], ["--json"]),
    "cache-dir-not-creatable": Case(["--cache-dir", NOT_CREATABLE, "doctor"], ["--cache-dir"]),
    "cache-dir-is-a-file": Case(["--cache-dir", "{d}/f.txt", "doctor"],
                                ["--cache-dir", "is a file"], {"f.txt": "x\n"}),
    # --- environment variables
    "env-cache-dir-not-creatable": Case(["verify", "mul", "--config", MUL],
                                        ["MIXFORGE_CACHE_DIR"],
                                        env={"MIXFORGE_CACHE_DIR": NOT_CREATABLE}),
    "env-yosys-timeout": Case(["synth", "pe", "--config", PE], ["MIXFORGE_YOSYS_TIMEOUT"],
                              env={"MIXFORGE_YOSYS_TIMEOUT": "soon"}),
    "env-yosys-timeout-negative": Case(["synth", "array", "--config", ARRAY],
                                       ["MIXFORGE_YOSYS_TIMEOUT"],
                                       env={"MIXFORGE_YOSYS_TIMEOUT": "-5"}),
    "env-cache-budget": Case(["verify", "pe", "--config", PE], ["MIXFORGE_CACHE_MAX_MB"],
                             env={"MIXFORGE_CACHE_MAX_MB": "lots"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2(name: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    for fname, content in case.files.items():
        p = tmp_path / fname
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    for key, val in case.env.items():
        monkeypatch.setenv(key, val)
    monkeypatch.setenv("MIXFORGE_CACHE_DIR", case.env.get("MIXFORGE_CACHE_DIR",
                                                          str(tmp_path / "cache")))
    if case.patch is not None:
        case.patch(monkeypatch)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = [a.replace("{d}", str(tmp_path)) for a in case.argv]
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, f"{argv}: exit {rc}, stderr {err!r}"
    assert len(lines) == 1, f"{argv}: expected one line, got {err!r}"
    assert lines[0].startswith("mixforge: error: "), lines[0]
    assert "Traceback" not in err
    for needle in case.names:
        assert needle.replace("{d}", str(tmp_path)) in lines[0], (needle, lines[0])
    for out in case.outputs:
        assert not (tmp_path / out).exists(), f"partial output {out} left behind"
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    new = [p for p in after if p not in before and "cache" not in p.parts]
    assert not new, f"files written by a failed command: {new}"
    assert all(after[p] == before[p] for p in before), "an input file was modified"


def test_corpus_covers_every_subcommand() -> None:
    covered = {tuple(c.argv[:2]) for c in CASES.values()} | {(c.argv[0],) for c in CASES.values()}
    for cmd in (("sim", "op"), ("gen", "pe"), ("gen", "array"), ("gen", "pim"), ("gen", "mul"),
                ("verify", "pe"), ("verify", "array"), ("verify", "pim"), ("verify", "mul"),
                ("synth", "pe"), ("synth", "array"), ("doctor",), ("formats",)):
        assert cmd in covered, cmd
    assert len(CASES) >= 40


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write interrupted halfway leaves the previous file intact and no temporary file."""
    from mixforge.outputs import write_text

    target = tmp_path / "r.json"
    target.write_text("old\n")

    def boom(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_text(target, "new\n" * 1000, "--json")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_successful_commands_say_where_they_wrote(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "op.json"
    assert main(["sim", "op", "--hw", HW, "--gemm", "64,64,64", "--json", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.is_file() and out.read_text().startswith("{")
    assert main(["formats", "--json", str(tmp_path / "f.json")]) == 0
    text = capsys.readouterr().out
    assert "float4_e2m1fn" in text and "fp4" in text and "NaR" in text


def test_garbage_yaml_file_under_random_bytes(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``head -c 300 /dev/urandom > g.yaml`` for several seeds: never a traceback."""
    import numpy as np

    for seed in range(20):
        g = tmp_path / f"g{seed}.yaml"
        g.write_bytes(np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8)
                      .tobytes())
        rc = main(["sim", "op", "--hw", str(g), "--gemm", "8,8,8"])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and str(g) in err, err


@pytest.mark.skipif(shutil.which("mixforge") is None, reason="console script not on PATH")
def test_one_line_from_the_real_process(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(["mixforge", "sim", "op", "--hw", HW, "--gemm", "-64,4096,4096"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
