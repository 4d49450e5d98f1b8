"""Processing-in-memory units: Duplex-style logic-PIM on the HBM logic die, or in-die bank-PIM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mixforge.errors import ConfigError
from mixforge.sim.arch.hbm import HbmConfig
from mixforge.sim.arch.pe import PeMode

__all__ = ["PimDeviceConfig"]


@dataclass(frozen=True)
class PimDeviceConfig:
    """The device's PIM: units attached to every pseudo-channel (the RTL of one unit is
    :class:`mixforge.hw.pim.config.PimUnitConfig`).

    Parameters
    ----------
    kind
        ``"logic"``: units on the HBM logic die fed through extra TSVs from one bank bundle at a
        time (Duplex); ``"bank"``: a unit next to each bank inside the DRAM die (for comparison).
    units_per_pc, lanes, freq_hz
        MAC units per pseudo-channel, MACs per unit per cycle, clock.
    modes
        (weight, activation) formats the units execute; ``lanes`` of a mode multiplies ``lanes``.
    buffer_bytes
        Operand buffer of one unit (activations of a GEMV must fit per K-chunk).
    bundles_per_pc
        Logic-PIM: the banks of a pc form this many bundles; the banks of one bundle are read in
        parallel (Duplex: 16 banks -> 2 bundles of 8), and the xPU can use the other bundle.
    bank_partition
        Logic-PIM: ``"split"`` (Duplex): the PIM's bundle and the xPU's banks are disjoint; each
        unit's data, bursts and row buffers live in its own banks, so running both at once costs
        neither any row conflicts. ``"shared"``: both units' data is spread over every bank of
        the pc, and concurrent streams evict each other's open rows (see
        :mod:`mixforge.sim.engine.interference`).
    bundle_banks
        Logic-PIM: banks per pc in the PIM bundle (``0``: ``banks_per_pc // bundles_per_pc``).
        A multiple of the bank groups (the bundle takes the same banks of every group, so both
        units keep tCCD_S bank-group interleaving); with ``split`` the xPU gets the rest.
    tsv_bw_multiplier
        Logic-PIM: TSV bandwidth per pc as a multiple of the pc's pin bandwidth (Duplex: 4).
    vector_lanes
        Softmax / activation operations per unit per cycle.
    opb_threshold
        Dispatch: ops below this many FLOP per DRAM byte run on PIM (Duplex: MoE and attention).
    static_w
        Static power of all PIM units, in watts.
    unit
        The RTL unit config (``examples/pim/*.yaml``, relative to the device YAML) that ``lanes``,
        ``modes`` and ``buffer_bytes`` were derived from (:func:`mixforge.sim.arch.refs.
        resolve_refs`); ``""``: a hand-written PIM ("modelled, no RTL"). Modes marked
        ``modelled`` are not built by that unit.
    """

    kind: Literal["logic", "bank"]
    units_per_pc: int
    lanes: int
    freq_hz: float
    modes: tuple[PeMode, ...]
    buffer_bytes: int = 65536
    bundles_per_pc: int = 2
    tsv_bw_multiplier: float = 4.0
    vector_lanes: int = 16
    opb_threshold: float = 32.0
    static_w: float = 0.0
    bank_partition: Literal["split", "shared"] = "split"
    bundle_banks: int = 0
    unit: str = ""

    def __post_init__(self) -> None:
        for name in ("units_per_pc", "lanes", "freq_hz", "buffer_bytes", "bundles_per_pc",
                     "tsv_bw_multiplier", "vector_lanes", "opb_threshold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not v > 0:
                raise ConfigError(f"must be positive, not {v!r}", path=name)
        if not self.modes:
            raise ConfigError("must list at least one mode", path="modes")
        if isinstance(self.bundle_banks, bool) or self.bundle_banks < 0:
            raise ConfigError(f"must be >= 0, not {self.bundle_banks!r}", path="bundle_banks")

    def check_hbm(self, hbm: HbmConfig) -> None:
        """Raise ``ConfigError`` when the PIM organisation does not fit the HBM's."""
        if self.kind != "logic":
            return
        if not self.bundle_banks and hbm.banks_per_pc % self.bundles_per_pc:
            raise ConfigError(f"{hbm.banks_per_pc} banks per pseudo-channel cannot form "
                              f"{self.bundles_per_pc} equal bundles", path="bundles_per_pc")
        nb = self.banks_in_parallel(hbm)
        if nb > hbm.banks_per_pc:
            raise ConfigError(f"a bundle of {nb} banks does not fit the {hbm.banks_per_pc} banks "
                              "of a pseudo-channel", path="bundle_banks")
        if self.bank_partition == "split" and nb == hbm.banks_per_pc:
            raise ConfigError(f"a bundle of all {nb} banks leaves none for the xPU with "
                              "bank_partition: split (use shared)", path="bundle_banks")
        if nb % hbm.bank_groups:
            raise ConfigError(f"must be a multiple of the {hbm.bank_groups} bank groups (the "
                              f"bundle takes the same banks of every group), not {nb}",
                              path="bundle_banks")

    def banks_in_parallel(self, hbm: HbmConfig) -> int:
        """Banks one PIM access reads at once (a bundle, or every bank for bank-PIM)."""
        if self.kind == "logic":
            return self.bundle_banks or hbm.banks_per_pc // self.bundles_per_pc
        return hbm.banks_per_pc

    def bank_ranges(self, hbm: HbmConfig) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(xpu, pim)`` ranges ``[lo, hi)`` of bank-in-group indices each unit's data uses.

        ``split`` logic-PIM: the PIM bundle is banks ``[0, bundle_banks / bank_groups)`` of
        every bank group and the xPU has the rest; otherwise both use every bank.
        """
        every = (0, hbm.banks_per_group)
        if self.kind != "logic" or self.bank_partition == "shared":
            return every, every
        per_group = self.banks_in_parallel(hbm) // hbm.bank_groups
        return (per_group, hbm.banks_per_group), (0, per_group)

    def pc_bw_bytes_per_s(self, hbm: HbmConfig) -> float:
        """Streaming read bandwidth of one pc into its PIM units.

        Each bank of the bundle delivers one burst per tCCD_L (consecutive reads in one bank
        group); logic-PIM is further capped by its TSVs. With Duplex's numbers (8 banks, tCCD_L =
        2 tCCD_S = 2 bursts) the bundle gives 4x the pin bandwidth, and so do the TSVs.
        """
        t = hbm.timing
        t_col_ns = max(t.t_ccd_l_ns, hbm.t_burst_ns)
        banks_bw = self.banks_in_parallel(hbm) * hbm.burst_bytes / (t_col_ns * 1e-9)
        if self.kind == "logic":
            return min(banks_bw, self.tsv_bw_multiplier * hbm.pc_bw_bytes_per_s)
        return banks_bw

    def bw_bytes_per_s(self, hbm: HbmConfig) -> float:
        return hbm.n_pcs * self.pc_bw_bytes_per_s(hbm)

    def lanes_for(self, w: str, a: str) -> int | None:
        """MACs per unit per cycle in mode ``(w, a)``, ``None`` when the units lack that mode."""
        for mode in self.modes:
            if mode.w == w and mode.a == a:
                return self.lanes * mode.lanes
        return None

    def is_modelled(self, w: str, a: str) -> bool:
        """True when mode ``(w, a)`` has no RTL unit behind it."""
        return not self.unit or any(m.modelled for m in self.modes if m.w == w and m.a == a)

    def peak_macs_per_s(self, hbm: HbmConfig, w: str, a: str) -> float:
        lanes = self.lanes_for(w, a) or 0
        return hbm.n_pcs * self.units_per_pc * lanes * self.freq_hz
