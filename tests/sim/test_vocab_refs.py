"""Device YAMLs that reference RTL configs, and the provenance every `sim op` output carries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from sim_devices import example_data

from mixforge.cli import main
from mixforge.config import to_dict
from mixforge.errors import ConfigError
from mixforge.hw.array.config import load_array_file
from mixforge.hw.pim.config import load_pim_file
from mixforge.sim.arch import arch_from_dict, load_arch
from mixforge.sim.arch.refs import provenance

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "examples" / "hw"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, **data}))
    return path


def test_mixpe_device_is_built_from_the_rtl_configs() -> None:
    arch = load_arch(HW / "mixpe_w4a8.yaml")
    src = ROOT / "examples" / "array" / "ws_4x4_w4a8_dequant.yaml"
    cfg = replace(load_array_file(src).array, double_buffer=True, acc_depth=256, group=128)
    assert arch.xpu.array == replace(cfg.spec, rows=64, cols=64)
    assert arch.xpu.array.dequant_latency == 6 and arch.xpu.array.acc_depth == 256
    pe = arch.xpu.pe
    assert pe.kind == "shift_add" and pe.late_dequant  # derived, not restated
    assert (pe.modes[0].w, pe.modes[0].a, pe.modes[0].modelled) == ("int4", "int8", False)
    assert pe.is_modelled("int2", "int8") and pe.is_modelled("int4", "float16")
    assert arch.pe_rtl is not None and arch.pe_rtl.name == "shift_add_w4a8"
    roles = {r.role: r for r in arch.refs}
    assert roles["xpu.array"].sha256 == _sha(src)
    assert roles["xpu.pe"].sha256 == _sha(ROOT / "examples" / "pe" / "shift_add_w4a8.yaml")
    assert roles["xpu.array"].size == (4, 4)
    assert "scaled 4x4 -> 64x64" in provenance(arch, "xpu", "int4", "int8")["timing"]


def test_duplex_pim_uses_only_rtl_formats_or_says_modelled() -> None:
    arch = load_arch(HW / "duplex.yaml")
    pim = arch.pim
    assert pim is not None and pim.unit
    spec = load_pim_file(ROOT / "examples" / "pim" / "duplex_unit.yaml").pim.spec
    assert pim.buffer_bytes == spec.buffer_bytes == 65536
    for w, a, macs in spec.modes():
        assert pim.lanes_for(w, a) == macs and not pim.is_modelled(w, a)
    assert pim.lanes_for("int4", "float16") == 256  # Duplex's 256 lanes, now from the RTL
    for w, a in (("float16", "float16"), ("bfloat16", "bfloat16"),
                 ("float8_e4m3fn", "float8_e4m3fn")):
        assert pim.is_modelled(w, a)
    prov = provenance(arch, "pim", "int4", "float16")
    assert "logic_pim_8x256_t8" in prov["timing"] and _sha(
        ROOT / "examples" / "pim" / "duplex_unit.yaml") in prov["timing"]
    assert provenance(arch, "pim", "float16", "float16")["timing"].startswith("modelled, no RTL")


@pytest.mark.parametrize(("edit", "where", "what"), [
    (lambda d: d["xpu"]["pe"].update(late_dequant=True), "xpu.pe.late_dequant", "derived"),
    (lambda d: d["xpu"]["pe"].update(kind="int_mac"), "xpu.pe.kind", "derived"),
    (lambda d: d["xpu"]["array"].update(pe_latency=2), "xpu.array.pe_latency", "cannot be set"),
    (lambda d: d["xpu"]["array"].update(acc_depth=0), "xpu.array.acc_depth", "1..65536"),
    (lambda d: d["xpu"]["array"].update(config="nothere.yaml"), "xpu.array.config",
     "no such file"),
    (lambda d: d["xpu"]["pe"]["modes"][0].pop("modelled"), "xpu.pe.modes[0]",
     "does not build w=int2 a=int8"),
    (lambda d: d["xpu"]["pe"].update(config=str(ROOT / "examples/pe/mul_w4a8.yaml")),
     "xpu.pe.config", "the array's cells are shift_add"),
])
def test_bad_references_name_file_and_field(tmp_path: Path, edit: Any, where: str,
                                            what: str) -> None:
    data = example_data("mixpe_w4a8")
    data.pop("schema_version")
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_arch(path)
    assert str(info.value).startswith(f"{path}: {where}: "), str(info.value)
    assert what in str(info.value)


def test_pim_unit_fields_are_not_restated(tmp_path: Path) -> None:
    data = example_data("duplex")
    data.pop("schema_version")
    data["pim"]["lanes"] = 256
    with pytest.raises(ConfigError, match=r"pim\.lanes: is derived from the RTL unit"):
        load_arch(_write(tmp_path, data))
    data = example_data("duplex")
    data.pop("schema_version")
    data["pim"]["modes"][0].pop("modelled")  # FP16 x FP16 is not in the RTL unit
    with pytest.raises(ConfigError, match=r"pim\.modes\[0\]: .* does not build w=float16"):
        load_arch(_write(tmp_path, data))


def test_resolved_device_round_trips_with_its_refs() -> None:
    arch = load_arch(HW / "mixpe_w4a8.yaml")
    again = arch_from_dict(to_dict(arch))
    assert again == arch and again.refs == arch.refs


def test_provenance_rtl_or_modelled() -> None:
    mixpe = load_arch(HW / "mixpe_w4a8.yaml")
    p = provenance(mixpe, "xpu", "int4", "int8")
    assert p["timing"].startswith("RTL array_ws_db_4x4_shift_add_w4a8")
    assert p["energy"].startswith("RTL synthesis shift_add_w4a8")
    p = provenance(mixpe, "xpu", "int2", "int8")  # a modelled mode: neither from the RTL
    assert p["timing"].startswith("modelled, no RTL") and p["energy"].startswith("modelled")
    h100 = load_arch(HW / "h100_like.yaml")
    p = provenance(h100, "xpu", "float16", "float16")
    assert p["timing"].startswith("modelled, no RTL") and p["energy"].startswith("modelled")


def test_sim_op_reports_provenance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "op.json"
    assert main(["sim", "op", "--hw", str(HW / "mixpe_w4a8.yaml"), "--gemm", "64,512,256",
                 "--group-size", "128", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    sha = _sha(ROOT / "examples" / "array" / "ws_4x4_w4a8_dequant.yaml")
    assert "timing from" in text and sha in text and "energy from    RTL synthesis" in text
    prov = json.loads(out.read_text())["provenance"]
    assert sha in prov["timing"] and "shift_add_w4a8" in prov["energy"]
    assert main(["sim", "op", "--hw", str(HW / "ws32.yaml"), "--gemm", "64,512,256"]) == 0
    assert "timing from    modelled, no RTL" in capsys.readouterr().out


def test_devices_referencing_measured_arrays_reproduce_verilator(tmp_path: Path) -> None:
    """Every array in ``measured_cycles.json`` (every config and GEMM measured in Verilator),
    referenced by a device YAML: the simulator's compute cycles are the measured cycles."""
    from mixforge.hw.array.config import ArrayConfig
    from mixforge.hw.specs.vocab import SIMD_MODES
    from mixforge.sim.engine.gemm import simulate_gemm
    from mixforge.sim.mapping import Gemm, Mapping

    records = json.loads((ROOT / "examples" / "array" / "measured_cycles.json").read_text())
    big = {"size_bytes": 1 << 24, "width_bits": 1 << 16}
    checked = 0
    for i, rec in enumerate(records):
        (tmp_path / f"a{i}.yaml").write_text(yaml.safe_dump({"schema_version": 1,
                                                              "array": rec["config"]}))
        arch = arch_from_dict({"name": "t", "hbm": {"preset": "hbm2e"}, "xpu": {
            "freq_hz": 1e9, "array": {"config": f"a{i}.yaml"}, "pe": {"acc_bits": 32},
            "sram": {"weight": big, "input": big, "output": big}}},
            file=str(tmp_path / "hw.yaml"))
        w, a, _ = ArrayConfig(**rec["config"]).modes[0]
        for g in rec["gemms"]:
            if g.get("mode"):  # multi-format cells: the GEMM's run-time mode
                w = a = SIMD_MODES[g["mode"]][0]
            m, k, n = g["m"], g["k"], g["n"]
            op = Gemm(m, k, n, w=w, a=a, group_size=g["group_size"] or 0)
            t = simulate_gemm(arch, op, Mapping(m, k, n, "nkm", False))
            assert t.compute_cycles == g["gemm_cycles"], (rec["config"], m, k, n)
            checked += 1
    # every record replayed (the OS drain rework re-measured 16 OS arrays; 144 GEMMs at least)
    assert checked == sum(len(r["gemms"]) for r in records) >= 144
