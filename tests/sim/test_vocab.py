"""One vocabulary for RTL and simulator: PE families, cell kinds, built modes, PIM spec."""

from __future__ import annotations

from pathlib import Path

import pytest

import mixforge.hw.pim as hw_pim
import mixforge.sim.arch as sim_arch
from mixforge.errors import ConfigError
from mixforge.hw.array.config import load_array_file
from mixforge.hw.pe.specs import SPEC_KINDS, load_pe_config
from mixforge.hw.pim.config import (
    A_FORMATS,
    W_FORMATS,
    PimUnitConfig,
    load_pim_file,
    pair_supported,
)
from mixforge.hw.specs.pim import MEASURED_BYTES_PER_CYCLE, PimSpec
from mixforge.hw.specs.vocab import (
    CELL_FAMILY,
    CELL_KINDS,
    PE_FAMILIES,
    PE_GENERATOR_CELL,
    cell_modes,
    pe_generator_modes,
    rtl_family_modes,
)
from mixforge.sim.arch.pe import PeConfig, PeMode

ROOT = Path(__file__).resolve().parents[2]
ARRAYS = sorted((ROOT / "examples" / "array").glob("*.yaml"))
PES = sorted((ROOT / "examples" / "pe").glob("*.yaml"))


def test_every_cell_kind_has_one_family() -> None:
    assert set(CELL_FAMILY) == set(CELL_KINDS)
    assert set(CELL_FAMILY.values()) <= set(PE_FAMILIES)
    assert set(PE_GENERATOR_CELL) == set(SPEC_KINDS)  # every single-PE generator is mapped
    assert set(PE_GENERATOR_CELL.values()) <= set(CELL_KINDS)
    assert not rtl_family_modes("tensor_core")  # no generator: modelled throughout


@pytest.mark.parametrize("path", ARRAYS, ids=lambda p: p.stem)
def test_example_arrays_build_modes_the_sim_accepts(path: Path) -> None:
    cfg = load_array_file(path).array
    assert cfg.modes and set(cfg.modes) <= rtl_family_modes(cfg.family)
    pe = PeConfig(kind=cfg.family, modes=tuple(PeMode(w, a, n) for w, a, n in cfg.modes))  # type: ignore[arg-type]
    assert not any(pe.is_modelled(m.w, m.a) for m in pe.modes)


@pytest.mark.parametrize("path", PES, ids=lambda p: p.stem)
def test_example_pes_map_to_their_array_cells(path: Path) -> None:
    cfg = load_pe_config(path)
    cell = PE_GENERATOR_CELL[cfg.spec.kind]
    modes = pe_generator_modes(cfg.spec.kind, cfg.spec)
    assert set(modes) <= rtl_family_modes(CELL_FAMILY[cell])


def test_cell_modes_follow_the_generator_parameters() -> None:
    assert cell_modes("shift_add", w_bits=2, a_bits=8) == (("int2", "int8", 1),)
    assert cell_modes("shift_add", w_bits=4, act="fp16") == (("int4", "float16", 1),)
    assert cell_modes("dequant_first", w_bits=4, a_bits=6) == (("int4", "int6", 1),)
    assert ("posit8_es0", "posit8_es0", 2) in cell_modes("multiformat")
    with pytest.raises(ConfigError, match="must be one of"):
        cell_modes("tensor_core")


def test_sim_rejects_modes_the_rtl_does_not_build() -> None:
    with pytest.raises(ConfigError, match=r"RTL builds no shift_add PE for w=uint2") as info:
        PeConfig(kind="shift_add", modes=(PeMode("uint2", "int8"),))
    assert info.value.path == "modes[0]" and "modelled: true" in str(info.value)
    # posit8 is 1 or 2 per cell in the RTL, not 4: accepted, but labelled modelled
    p8 = PeConfig(kind="simd_mac", modes=(PeMode("posit8_es0", "posit8_es0", 4),))
    assert p8.is_modelled("posit8_es0", "posit8_es0")
    assert not PeConfig(kind="simd_mac", modes=(PeMode("posit8_es0", "posit8_es0", 2),)
                        ).is_modelled("posit8_es0", "posit8_es0")
    # hand-modelled: allowed inside the family's envelope, and says so
    pe = PeConfig(kind="shift_add", modes=(PeMode("int4", "int8"),
                                          PeMode("uint2", "int8", modelled=True)))
    assert not pe.is_modelled("int4", "int8") and pe.is_modelled("uint2", "int8")
    whole = PeConfig(kind="shift_add", modes=(PeMode("uint2", "int8"),), modelled=True)
    assert whole.is_modelled("uint2", "int8")
    with pytest.raises(ConfigError, match="does not support weight format"):  # outside it
        PeConfig(kind="shift_add", modes=(PeMode("float16", "int8", modelled=True),))
    tc = PeConfig(kind="tensor_core", modes=(PeMode("float16", "float16"),))
    assert tc.is_modelled("float16", "float16")


def test_one_pim_config_per_role() -> None:
    assert hw_pim.PimUnitConfig is PimUnitConfig and hw_pim.PimConfig is PimUnitConfig
    assert not hasattr(sim_arch, "PimConfig")  # one name per role in sim/
    assert sim_arch.PimDeviceConfig is not PimUnitConfig


def test_pim_spec_is_the_measured_throughput() -> None:
    """The example unit's spec reproduces the Verilator-measured B/cycle (BENCHMARKS.md)."""
    spec = load_pim_file(ROOT / "examples" / "pim" / "logic_pim_unit.yaml").pim.spec
    assert isinstance(spec, PimSpec) and spec.width == 256
    for (w, a), measured in MEASURED_BYTES_PER_CYCLE.items():
        got = tuple(spec.bytes_per_cycle(w, a, t) for t in (1, 4, 8, 16))
        assert got == measured, (w, a)


@pytest.mark.parametrize(("w", "a"), [(w, a) for w in W_FORMATS for a in A_FORMATS
                                      if pair_supported(w, a)])
def test_pim_macs_per_cycle_matches_the_unit_cycle_count(w: str, a: str) -> None:
    cfg = PimUnitConfig(banks=8, burst_bits=256, max_k_words=16)
    tokens, k, n = 3, 1000, 5
    ops = cfg.ops(w, a, tokens, k, n)  # datapath cycles with data always ready
    assert ops * cfg.spec.macs_per_cycle(w, a) == cfg.padded_k(w, a, k) * tokens * n


def test_pim_spec_16bit_weights_use_half_the_lanes_at_full_bytes() -> None:
    """FP16 / BF16 weights: width / 16 MACs per cycle, still width / 8 B/cycle; no 8-bit acts."""
    cfg = PimUnitConfig(banks=4, burst_bits=64, w_formats=("fp8_e4m3", "fp16", "bf16"),
                        a_formats=("fp16", "bf16", "fp8_e5m2"))
    spec = cfg.spec
    for w in ("fp16", "bf16"):
        assert spec.macs_per_cycle(w, "bf16") == spec.width // 16 == 16
        assert spec.bytes_per_cycle(w, "fp16", tokens=2) == spec.width / 8 / 2
    assert spec.macs_per_cycle("fp8_e4m3", "fp8_e5m2") == spec.width // 8
    modes = spec.modes()
    assert not any(w in ("float16", "bfloat16") and a.startswith("float8") for w, a, _ in modes)
    assert ("bfloat16", "bfloat16", 16) in modes and ("float8_e4m3fn", "float8_e5m2", 32) in modes
    assert len(modes) == len(cfg.pairs) == 3 + 2 + 2
