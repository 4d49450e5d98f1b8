"""Issue 18 item 6: energy tables scaled to the device's technology node.

Regression: ``h100_like`` at 4096^3 FP16 drew 1.61 kW on average (45-nm SRAM tables, 3.2 pJ/MAC):
2.3x an H100's 700 W TDP. With ``energy.node_nm: 4`` it draws ~390 W; an A100-like at 7 nm ~170 W
of its 400 W.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sim_devices import a100_like

from mixforge.errors import ConfigError
from mixforge.sim.arch.device import ArchConfig, arch_from_dict, load_arch
from mixforge.sim.cost.entries import COST_TABLE, at_node
from mixforge.sim.cost.scaling import J21_RATIO_7NM, node_factor
from mixforge.sim.cost.tables import EnergyConfig, mac_energy_pj, sram_pj_per_bit
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping.ops import Gemm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _unlimited(arch: ArchConfig) -> ArchConfig:
    return dataclasses.replace(arch, xpu=dataclasses.replace(arch.xpu, power_limit_w=0.0))


def _power(arch: ArchConfig, n: int = 4096) -> float:
    r = Simulator(arch).run_op(Gemm(name="g", m=n, k=n, n=n, w="float16", a="float16"))
    assert not r.power_limited
    return r.power_w


def test_h100_like_power_within_tdp_band() -> None:
    arch = _unlimited(load_arch(EXAMPLES / "h100_like.yaml"))
    assert arch.energy.node_nm == 4
    p = _power(arch)  # at the boost clock, before any power limit
    assert 0.4 * 700 <= p <= 700
    # the old 45-nm tables: 2.3x the TDP
    old = dataclasses.replace(arch, energy=dataclasses.replace(arch.energy, node_nm=45))
    assert _power(old) > 3 * p


def test_a100_like_power_within_tdp_band() -> None:
    p = _power(a100_like())  # 7 nm, no power limit set
    assert 0.4 * 400 <= p <= 400


def test_jouppi_7nm_entries_are_reproduced() -> None:
    cfg = EnergyConfig(node_nm=7)
    # [J21] 64-bit SRAM reads at 7 nm: 8 KB 7.5 pJ, 32 KB 8.5 pJ, 1 MB 14 pJ
    for size, pj in ((8 * 1024, 7.5), (32 * 1024, 8.5), (1 << 20, 14.0)):
        assert sram_pj_per_bit(size, cfg) * 64 == pytest.approx(pj)
    # FP16 MAC = FP16 mult 0.34 + INT8 add 0.007 (exponents) + FP32 add 0.38 at 7 nm
    assert mac_energy_pj("fp_mac", "float16", "float16", cfg) == pytest.approx(0.34 + 0.007 + 0.38)
    # INT8 MAC = INT8 mult 0.07 + INT32 add 0.03
    assert mac_energy_pj("int_mac", "int8", "int8", cfg) == pytest.approx(0.07 + 0.03)
    # default node 45: the [H14] figures unchanged
    assert mac_energy_pj("fp_mac", "float16", "float16", EnergyConfig()) == pytest.approx(2.03)
    assert EnergyConfig().vector_op_pj == pytest.approx((0.9 + 3.7) / 2)


def test_node_factor_is_monotone_and_bounded() -> None:
    for kind in J21_RATIO_7NM:
        fs = [node_factor(kind, n) for n in (45, 32, 22, 16, 10, 7, 6, 5, 4, 3)]
        assert fs[0] == 1.0
        assert all(a >= b for a, b in zip(fs, fs[1:], strict=False))
        assert fs[5] == pytest.approx(J21_RATIO_7NM[kind])
        assert fs[7] == pytest.approx(0.7 * J21_RATIO_7NM[kind])  # N5: -30% vs N7
        assert fs[-1] == fs[7]  # below 5 nm: no further gain modelled


def test_explicit_values_are_not_scaled() -> None:
    cfg = EnergyConfig(node_nm=4, e_mac_pj=0.46, e_vector_op_pj=1.0)
    assert mac_energy_pj("tensor_core", "float16", "float16", cfg) == 0.46
    assert cfg.vector_op_pj == 1.0
    assert cfg.e_dram_xpu_pj_per_bit == EnergyConfig().e_dram_xpu_pj_per_bit


def test_node_out_of_range_names_file_and_field(tmp_path: Path) -> None:
    src = (EXAMPLES / "ws32.yaml").read_text().replace("node_nm: 45", "node_nm: 65")
    bad = tmp_path / "bad.yaml"
    bad.write_text(src)
    with pytest.raises(ConfigError) as exc:
        load_arch(bad)
    assert exc.value.path == "energy.node_nm" and "bad.yaml" in str(exc.value)


@pytest.mark.parametrize("name", ["h100_like", "duplex", "ws32", "mixpe_w4a8"])
def test_examples_name_their_node(name: str) -> None:
    assert "node_nm:" in (EXAMPLES / f"{name}.yaml").read_text()


def test_sim_op_shows_split_power_and_clock(capsys: pytest.CaptureFixture[str]) -> None:
    from mixforge.cli import main

    rc = main(["sim", "op", "--hw", str(EXAMPLES / "h100_like.yaml"), "--gemm", "1024,1024,1024",
               "--formats", "w=float16,a=float16"])
    out = capsys.readouterr().out
    assert rc == 0
    for comp in ("mac", "sram", "dram", "static"):
        assert f"\n    {comp} " in out
    assert "W average (energy tables at 4 nm)" in out and "GHz" in out
    assert "resource-bound" in out


def test_arch_from_dict_accepts_node() -> None:
    arch = arch_from_dict({"name": "n", "xpu": {
        "freq_hz": 1e9, "array": {"rows": 8, "cols": 8, "dataflow": "ws"},
        "pe": {"kind": "int_mac", "acc_bits": 32, "modes": [{"w": "int8", "a": "int8"}]},
        "sram": {"weight": {"size_bytes": 4096}, "input": {"size_bytes": 4096},
                 "output": {"size_bytes": 4096}}},
        "hbm": {"preset": "hbm2e"}, "energy": {"node_nm": 16}})
    assert arch.energy.node_nm == 16


def test_every_table_entry_carries_its_node_and_source() -> None:
    for e in COST_TABLE:
        assert e.source
        if e.scaling is None:
            assert "not scaled" in e.source, e.name
        else:
            assert e.node_nm == 45 and e.scaling in J21_RATIO_7NM
    at7 = {e.name: v for e, v in at_node(7)}
    assert at7["sram_1m"] == pytest.approx(14.0) and at7["fp32_mul"] == pytest.approx(1.31)
    assert at7["dram_xpu"] == pytest.approx(3.48, abs=0.01)  # HBM interface: unscaled
