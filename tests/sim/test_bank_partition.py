"""xPU and logic-PIM on separate bank bundles (split) or the same banks (shared)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from sim_devices import example_data

from mixforge.errors import ConfigError
from mixforge.sim.arch import HBM3, load_arch
from mixforge.sim.engine.dram import decode_bursts, transfer_time
from mixforge.sim.engine.interference import interference
from mixforge.sim.engine.simulator import Simulator
from mixforge.sim.mapping import Attention, Gemm

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hw"


def _duplex(partition: str = "split"):  # type: ignore[no-untyped-def]
    arch = load_arch(EXAMPLES / "duplex.yaml")
    assert arch.pim is not None
    return replace(arch, pim=replace(arch.pim, bank_partition=partition))


def test_burst_map_confined_to_bank_range() -> None:
    hbm = HBM3
    cols = hbm.row_bytes // hbm.burst_bytes
    for lo, hi in ((0, 2), (2, 4), (0, 4)):
        nb = hi - lo
        n = hbm.n_pcs * hbm.bank_groups * nb * cols * 2  # two rows of every bank in the range
        pc, bg, bank, row = decode_bursts(hbm, np.arange(n), (lo, hi))
        assert bank.min() == lo and bank.max() == hi - 1
        keys = ((pc * hbm.bank_groups + bg) * hbm.banks_per_group + bank) * 2 + row
        counts = np.bincount(keys)[np.unique(keys)]
        # a bijection onto the unit's banks: every (pc, bank, row) holds one row of bursts
        assert np.unique(keys).size == hbm.n_pcs * hbm.bank_groups * nb * 2
        assert (counts == cols).all()
        # consecutive bursts still alternate bank groups (tCCD_S spacing)
        assert (bg[1:4] != bg[:3]).all()
    # the default map is the whole pc
    assert np.array_equal(decode_bursts(hbm, np.arange(4096))[2],
                          decode_bursts(hbm, np.arange(4096), (0, 4))[2])


def test_split_gives_each_unit_its_own_banks() -> None:
    arch = _duplex("split")
    assert arch.xpu_banks == (2, 4) and arch.pim_banks == (0, 2)
    shared = _duplex("shared")
    assert shared.xpu_banks is None and shared.pim_banks is None
    # the xPU's bandwidth still comes from the pins: a stream over its 8 banks is as fast as
    # over all 16
    half = transfer_time(arch.hbm, 1, 1 << 22, 1 << 22, 0, arch.xpu_banks)
    full = transfer_time(arch.hbm, 1, 1 << 22, 1 << 22)
    assert half.t_alone_ns == pytest.approx(full.t_alone_ns, rel=0.02)


def _experts() -> tuple[list[Gemm], list[Attention]]:
    xs = [Gemm(256, 4096, 14336, w="float16", a="float16", name=f"e{i}") for i in range(2)]
    ps = [Attention(32, 1, 2048, 64, 8, 128, name=f"attn{i}") for i in range(4)]
    return xs, ps


def test_split_concurrent_equals_alone() -> None:
    sim_ = Simulator(_duplex("split"))
    xs, ps = _experts()
    both = sim_.run_concurrent(xs, ps)
    alone_x = sum(sim_.run_op(op, "xpu").seconds for op in xs)
    alone_p = sum(sim_.run_op(op, "pim").seconds for op in ps)
    assert both.interference is not None
    assert both.interference.slowdown_xpu == 1.0 and both.interference.slowdown_pim == 1.0
    assert both.interference.extra_activations == 0
    assert both.unit_seconds["xpu"] == pytest.approx(alone_x, rel=1e-12)
    assert both.unit_seconds["pim"] == pytest.approx(alone_p, rel=1e-12)
    assert both.seconds == pytest.approx(max(alone_x, alone_p), rel=1e-12)
    assert both.extra_energy.total_j == 0.0


def test_shared_banks_are_slower_with_more_row_misses() -> None:
    xs, ps = _experts()
    split = Simulator(_duplex("split")).run_concurrent(xs, ps)
    shared_sim = Simulator(_duplex("shared"))
    shared = shared_sim.run_concurrent(xs, ps)
    alone_x = sum(shared_sim.run_op(op, "xpu").seconds for op in xs)
    alone_p = sum(shared_sim.run_op(op, "pim").seconds for op in ps)
    inter = shared.interference
    assert inter is not None and split.interference is not None
    assert inter.slowdown_xpu > 1.0 and inter.slowdown_pim > 1.0
    assert inter.acts_together > inter.acts_alone  # interleaved streams -> row misses
    assert inter.extra_activations > split.interference.extra_activations == 0
    assert shared.unit_seconds["xpu"] > alone_x and shared.unit_seconds["pim"] > alone_p
    assert shared.seconds > split.seconds
    assert shared.energy_j > sum(r.energy_j for r in shared.ops)


def test_no_interference_without_the_other_unit() -> None:
    arch = _duplex("shared")
    assert interference(arch, 1e12, 0.0).slowdown_xpu == 1.0
    sim_ = Simulator(arch)
    xs, _ = _experts()
    only = sim_.run_concurrent(xs, ())
    assert only.interference is None
    assert only.seconds == pytest.approx(sum(sim_.run_op(op, "xpu").seconds for op in xs))


@pytest.mark.parametrize(("edit", "where", "what"), [
    ({"bundle_banks": 24}, "pim.bundle_banks", "does not fit the 16 banks"),
    ({"bundle_banks": 16}, "pim.bundle_banks", "leaves none for the xPU"),
    ({"bundle_banks": 6}, "pim.bundle_banks", "multiple of the 4 bank groups"),
    ({"bank_partition": "half"}, "pim.bank_partition", "must be one of"),
])
def test_bad_partition_names_file_and_field(tmp_path: Path, edit: dict[str, object], where: str,
                                            what: str) -> None:
    data = example_data("duplex")
    data["pim"].update(edit)
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_arch(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {where}: "), msg
    assert what in msg


def test_shared_bundle_of_all_banks_is_allowed(tmp_path: Path) -> None:
    data = example_data("duplex")
    data["pim"].update({"bundle_banks": 16, "bank_partition": "shared"})
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(data))
    arch = load_arch(path)
    assert arch.pim is not None and arch.pim.banks_in_parallel(arch.hbm) == 16
