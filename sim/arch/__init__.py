"""Hardware description: YAML -> frozen dataclasses (units in field names, widths in bits)."""

from mixforge.sim.arch.device import ArchConfig, arch_from_dict, load_arch
from mixforge.sim.arch.hbm import HBM2E, HBM3, HBM_PRESETS, HbmConfig, HbmTiming
from mixforge.sim.arch.pe import PE_LIBRARY, PeConfig, PeMode
from mixforge.sim.arch.pim import PimDeviceConfig
from mixforge.sim.arch.xpu import SramBuffer, SramConfig, VectorUnit, XpuConfig

__all__ = ["ArchConfig", "arch_from_dict", "load_arch", "HbmConfig", "HbmTiming", "HBM2E",
           "HBM3", "HBM_PRESETS", "PeConfig", "PeMode", "PE_LIBRARY",
           "PimDeviceConfig", "SramBuffer", "SramConfig", "VectorUnit", "XpuConfig"]
