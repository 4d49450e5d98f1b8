"""Hardware YAML loading: the shipped examples, and precise errors for impossible hardware."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mixforge.errors import ConfigError
from mixforge.sim.arch import HBM2E, HBM3, load_arch

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


@pytest.mark.parametrize("name", ["ws32", "h100_like", "duplex", "mixpe_w4a8"])
def test_examples_load(name: str) -> None:
    arch = load_arch(EXAMPLES / f"{name}.yaml")
    assert arch.name == name
    assert arch.hbm.peak_bw_bytes_per_s > 0


def test_h100_and_duplex_numbers() -> None:
    h = load_arch(EXAMPLES / "h100_like.yaml")
    assert h.xpu.peak_macs_per_s("float16", "float16") * 2 == pytest.approx(989.4e12, rel=1e-3)
    assert h.hbm.peak_bw_bytes_per_s == pytest.approx(3.352e12, rel=1e-3)
    assert h.hbm.capacity_bytes == 80 * 2**30
    d = load_arch(EXAMPLES / "duplex.yaml")
    assert d.pim is not None
    # Duplex: logic-PIM sees 4x the xPU's bandwidth (8-bank bundle, tCCD_L = 2 tCCD_S)
    assert d.pim.bw_bytes_per_s(d.hbm) == pytest.approx(4 * d.hbm.peak_bw_bytes_per_s)


def test_presets() -> None:
    assert HBM2E.peak_bw_bytes_per_s == pytest.approx(409.6e9)
    assert HBM3.peak_bw_bytes_per_s == pytest.approx(819.2e9)
    assert HBM3.timing.t_ccd_l_ns == 2 * HBM3.timing.t_ccd_s_ns
    assert HBM2E.source and HBM3.source


def _write(tmp_path: Path, edit: dict[str, object], drop_schema: bool = False) -> Path:
    data = yaml.safe_load((EXAMPLES / "ws32.yaml").read_text())
    for dotted, value in edit.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[leaf] = value
    if drop_schema:
        del data["schema_version"]
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(("edit", "where", "what"), [
    ({"xpu.array.rows": -4}, "xpu.array.rows", "positive"),
    ({"xpu.sram.weight.size_bytes": 512}, "xpu.sram.weight.size_bytes", "cannot hold"),
    ({"xpu.sram.output.size_bytes": 16}, "xpu.sram.output.size_bytes", "cannot hold"),
    ({"xpu.pe.modes": [{"w": "float4_e2m1fn", "a": "int8"}]}, "xpu.pe.modes[0].w",
     "does not support"),
    ({"xpu.pe.modes": [{"w": "int8", "a": "int99"}]}, "xpu.pe.modes[0].a", "width"),
    ({"hbm.data_rate_bps": 0}, "hbm.data_rate_bps", "positive"),
    ({"hbm.preset": "hbm9"}, "hbm.preset", "unknown preset"),
    ({"hbm.timing": {"t_rfc_ns": 5000.0}}, "hbm.timing.t_rfc_ns", "tREFI"),
    ({"xpu.colour": "red"}, "xpu.colour", "unknown key"),
    ({"xpu.freq_hz": "fast"}, "xpu.freq_hz", "number"),
])
def test_bad_yaml_names_file_and_path(tmp_path: Path, edit: dict[str, object], where: str,
                                      what: str) -> None:
    path = _write(tmp_path, edit)
    with pytest.raises(ConfigError) as info:
        load_arch(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {where}: "), msg
    assert what in msg


def test_missing_schema_version(tmp_path: Path) -> None:
    path = _write(tmp_path, {}, drop_schema=True)
    with pytest.raises(ConfigError, match="schema_version"):
        load_arch(path)
