"""HBM organisation and timing: stacks -> channels -> pseudo-channels -> bank groups -> banks.

Times are in nanoseconds (``*_ns``), rates in bits or bytes per second. Presets are frozen
instances; a YAML ``hbm: {preset: hbm3, stacks: 5}`` starts from the preset and overrides fields
(``dataclasses.replace`` semantics, see :mod:`mixforge.sim.arch.device`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mixforge.errors import ConfigError

__all__ = ["HbmTiming", "HbmConfig", "HBM2E", "HBM3", "HBM_PRESETS"]


@dataclass(frozen=True)
class HbmTiming:
    """DRAM timing parameters of one pseudo-channel (JEDEC names, in ns).

    ``t_ccd_s_ns`` / ``t_ccd_l_ns``: column-to-column delay for consecutive reads to different /
    the same bank group; ``t_rrd_ns``: activate-to-activate in different banks; ``t_faw_ns``: at
    most four activates per window; ``t_rfc_ns`` every ``t_refi_ns``: all-bank refresh;
    ``t_rfc_pb_ns``: one bank's refresh when the controller refreshes per bank (REFSB), each bank
    once per ``t_refi_ns``. JEDEC specifies tCCD_S/L in clock cycles (they scale with the pin
    rate); the core timings (tRCD, tRP, tRAS, tRRD, tFAW, tRFC) are analog and stay in ns: a
    preset pushed to a higher ``data_rate_bps`` without new tCCD values is capped by them.
    """

    t_rcd_ns: float
    t_rp_ns: float
    t_ras_ns: float
    t_cl_ns: float
    t_ccd_s_ns: float
    t_ccd_l_ns: float
    t_rrd_ns: float
    t_faw_ns: float
    t_rfc_ns: float
    t_refi_ns: float
    t_rfc_pb_ns: float = 160.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not v > 0:
                raise ConfigError(f"must be positive, not {v!r}", path=f.name)
        if self.t_ras_ns < self.t_rcd_ns:
            raise ConfigError(f"tRAS ({self.t_ras_ns} ns) must be >= tRCD ({self.t_rcd_ns} ns)",
                              path="t_ras_ns")
        if self.t_ccd_l_ns < self.t_ccd_s_ns:
            raise ConfigError(f"tCCD_L ({self.t_ccd_l_ns} ns) must be >= tCCD_S "
                              f"({self.t_ccd_s_ns} ns)", path="t_ccd_l_ns")
        for name in ("t_rfc_ns", "t_rfc_pb_ns"):
            if getattr(self, name) >= self.t_refi_ns:
                raise ConfigError(f"{name} ({getattr(self, name)} ns) must be < tREFI "
                                  f"({self.t_refi_ns} ns): the device would do nothing but "
                                  "refresh", path=name)

    @property
    def t_rc_ns(self) -> float:
        """Row cycle: activate-to-activate in the same bank."""
        return self.t_ras_ns + self.t_rp_ns


@dataclass(frozen=True)
class HbmConfig:
    """HBM stacks attached to the device.

    Parameters
    ----------
    stacks, channels_per_stack, pcs_per_channel, bank_groups, banks_per_group, rows_per_bank
        Organisation; a pseudo-channel (pc) is the unit with its own command and data bus.
    row_bytes
        Row (page) size of one bank of one pc.
    bus_bits_per_pc, data_rate_bps, burst_length
        Data bus width per pc, bits per second per pin, beats per burst.
    timing
        :class:`HbmTiming`.
    pc_interleave_bytes
        Bytes of a linear address range served by one pseudo-channel before the next one
        (spread over its bank groups, a few bursts per open row of each).
    refresh
        ``"all_bank"`` (REFAB: the pc stops for tRFC every tREFI; what DRAMsim3's and
        Ramulator's default controllers issue) or ``"per_bank"`` (REFSB: one bank at a time for
        tRFCpb while the others serve).
    source
        Where the numbers come from.
    """

    stacks: int
    channels_per_stack: int
    pcs_per_channel: int
    bank_groups: int
    banks_per_group: int
    rows_per_bank: int
    row_bytes: int
    bus_bits_per_pc: int
    data_rate_bps: float
    burst_length: int
    timing: HbmTiming
    pc_interleave_bytes: int = 512
    refresh: str = "all_bank"
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("stacks", "channels_per_stack", "pcs_per_channel", "bank_groups",
                     "banks_per_group", "rows_per_bank", "row_bytes", "bus_bits_per_pc",
                     "data_rate_bps", "burst_length", "pc_interleave_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not v > 0:
                raise ConfigError(f"must be positive, not {v!r}", path=name)
        if self.burst_bytes * 8 != self.bus_bits_per_pc * self.burst_length:
            raise ConfigError(f"bus_bits_per_pc * burst_length ({self.bus_bits_per_pc} * "
                              f"{self.burst_length}) must be a whole number of bytes",
                              path="burst_length")
        if self.row_bytes % self.burst_bytes:
            raise ConfigError(f"must be a multiple of the burst ({self.burst_bytes} B), not "
                              f"{self.row_bytes}", path="row_bytes")
        if self.refresh not in ("all_bank", "per_bank"):
            raise ConfigError(f"must be 'all_bank' or 'per_bank', not {self.refresh!r}",
                              path="refresh")
        unit = self.bank_groups * self.burst_bytes
        if self.pc_interleave_bytes % unit or (self.row_bytes * self.bank_groups) \
                % self.pc_interleave_bytes:
            raise ConfigError(f"must be a multiple of bank_groups * burst ({unit} B) dividing "
                              f"bank_groups * row_bytes, not {self.pc_interleave_bytes}",
                              path="pc_interleave_bytes")

    @property
    def n_pcs(self) -> int:
        """Pseudo-channels in the whole memory system."""
        return self.stacks * self.channels_per_stack * self.pcs_per_channel

    @property
    def banks_per_pc(self) -> int:
        return self.bank_groups * self.banks_per_group

    @property
    def burst_bytes(self) -> int:
        return self.bus_bits_per_pc * self.burst_length // 8

    @property
    def t_burst_ns(self) -> float:
        """Data-bus occupancy of one burst."""
        return self.burst_length / self.data_rate_bps * 1e9

    @property
    def pc_bw_bytes_per_s(self) -> float:
        return self.bus_bits_per_pc / 8 * self.data_rate_bps

    @property
    def peak_bw_bytes_per_s(self) -> float:
        """Pin bandwidth of all stacks (the xPU roofline's memory term)."""
        return self.n_pcs * self.pc_bw_bytes_per_s

    @property
    def capacity_bytes(self) -> int:
        return self.n_pcs * self.banks_per_pc * self.rows_per_bank * self.row_bytes

    @property
    def refresh_factor(self) -> float:
        """Stretch of a pc's busy time by all-bank refresh: tREFI / (tREFI - tRFC) (1 with
        per-bank refresh, which leaves the bus and the other banks serving)."""
        t = self.timing
        if self.refresh == "per_bank":
            return 1.0
        return t.t_refi_ns / (t.t_refi_ns - t.t_rfc_ns)

    @property
    def bank_refresh_factor(self) -> float:
        """Stretch of one bank's occupancy by per-bank refresh: tREFI / (tREFI - tRFCpb)."""
        t = self.timing
        if self.refresh != "per_bank":
            return 1.0
        return t.t_refi_ns / (t.t_refi_ns - t.t_rfc_pb_ns)

    @property
    def act_refresh_factor(self) -> float:
        """Per-bank refresh commands take activation slots (tRRD/tFAW): every bank of the pc
        once per tREFI."""
        t = self.timing
        if self.refresh != "per_bank":
            return 1.0
        slots = self.banks_per_pc * max(t.t_rrd_ns, t.t_faw_ns / 4)
        return t.t_refi_ns / max(t.t_refi_ns - slots, 1e-9)


# Core timings in ns follow DRAMsim3 configs/HBM2_8Gb_x128.ini (tCK = 1 ns: tRCD = tRP = CL =
# 14, tRAS = 34, tRRD_S = 4, tFAW = 30, tREFI = 3900). tCCD_S is one BL4 burst at 3.2 Gb/s
# (2 clocks = 1.25 ns) and tCCD_L = 2 * tCCD_S as Duplex (MICRO 2024) states for HBM3
# (DRAMsim3 HBM2 and Ramulator 2.0 HBM2.cpp/HBM3.cpp: nCCDS = 1, nCCDL = 2 clocks, i.e. the data
# bus, not the command rate, bounds a stream that alternates bank groups). All-bank refresh
# time by channel density, Ramulator 2.0 src/dram/impl/HBM2.cpp / HBM3.cpp tRFC table (ns):
# 2 Gb 160, 4 Gb 260, 8 Gb 350, 16 Gb 450 -- the larger of the two simulators' values
# (DRAMsim3's HBM2_8Gb_x128.ini, 1 GiB channels, uses 260 ns) -- and per-bank refresh
# nRFCSB = 160 ns (Ramulator 2.0 HBM2/HBM3 presets; DRAMsim3 refreshes one bank every
# tREFIb = 128 ns).


def _core_timing(t_rfc_ns: float) -> HbmTiming:
    return HbmTiming(t_rcd_ns=14.0, t_rp_ns=14.0, t_ras_ns=34.0, t_cl_ns=14.0, t_ccd_s_ns=1.25,
                     t_ccd_l_ns=2.5, t_rrd_ns=4.0, t_faw_ns=30.0, t_rfc_ns=t_rfc_ns,
                     t_refi_ns=3900.0, t_rfc_pb_ns=160.0)


#: HBM2E, 3.2 Gb/s per pin, 8 channels x 2 pseudo-channels of 64 bits, 16 GiB per 8-high stack
#: (JESD235C organisation; 409.6 GB/s per stack as Samsung Flashbolt / SK hynix HBM2E); a
#: 16-Gb channel refreshes for tRFC = 450 ns every 3.9 us: streaming reads reach 88.5% of pins.
HBM2E = HbmConfig(stacks=1, channels_per_stack=8, pcs_per_channel=2, bank_groups=4,
                  banks_per_group=4, rows_per_bank=65536, row_bytes=1024, bus_bits_per_pc=64,
                  data_rate_bps=3.2e9, burst_length=4, timing=_core_timing(450.0),
                  source="JESD235C organisation; ns timings from DRAMsim3 HBM2_8Gb_x128.ini; "
                         "tRFC(16 Gb channel) from Ramulator 2.0 HBM2.cpp")

#: HBM3, 6.4 Gb/s per pin, 16 channels x 2 pseudo-channels of 32 bits, BL8 (32 B bursts),
#: 4 bank groups x 4 banks per pc, 16 GiB per stack: 819.2 GB/s per stack (JESD238); an 8-Gb
#: channel refreshes for tRFC = 350 ns every 3.9 us: streaming reads reach 91.0% of pins.
HBM3 = HbmConfig(stacks=1, channels_per_stack=16, pcs_per_channel=2, bank_groups=4,
                 banks_per_group=4, rows_per_bank=32768, row_bytes=1024, bus_bits_per_pc=32,
                 data_rate_bps=6.4e9, burst_length=8, timing=_core_timing(350.0),
                 source="JESD238 organisation; ns timings as Ramulator 2.0 HBM3.cpp "
                        "(from DRAMsim3 HBM2), tCCD_L = 2 tCCD_S per Duplex; tRFC(8 Gb "
                        "channel) from Ramulator 2.0 HBM3.cpp")

HBM_PRESETS: dict[str, HbmConfig] = {"hbm2e": HBM2E, "hbm3": HBM3}
