"""Per-PE energy, static power and area from the RTL: the ``mixforge synth pe --json`` figures.

``mixforge synth pe --config PE.yaml --json OUT`` writes the Yosys figures of a generated PE:
``cmos_transistors`` (``abc -g cmos2; stat -tech cmos``), ``flip_flops``,
``cmos_transistors_incl_ff`` and the same per part (``core``: the per-product datapath an array
cell replicates; ``dequant`` / ``readout``: once per group / per output). An arch YAML points to
such a file with ``xpu.pe.rtl: path.json`` (relative to the YAML), or ``mixforge sim op
--pe-rtl FILE`` / :func:`with_pe_rtl` attach one.

First-order model (area-based, as Accelergy's area/energy estimators scale a reference
component by its size; every constant is in :mod:`mixforge.sim.cost.tables` with its source):

* energy per MAC = ``ref_mac_pj * T_core / rtl_ref_transistors * mac_scale``: switched
  capacitance grows with the transistors of the per-product datapath. The reference is [H14]'s
  INT8 multiply + INT32 add (0.3 pJ at 45 nm, scaled to ``energy.node_nm``) for the core of
  the dequantize-first INT8 MAC PE measured by the same flow ([MEAS]), so that PE costs about
  [H14]'s INT8 MAC, and every other PE scales by its measured transistor ratio. Dequantization
  and readout parts are not per MAC (the vector-op count charges dequantization, once per group
  with MixPE late dequantization);
* area = ``T_core * PEs + (T_total - T_core) * columns`` transistors: every PE replicates the
  core; the other parts (dequantization, readout) work on the outputs leaving the array, once
  per column of every core (flip-flops included throughout);
* static power = ``leak_nw_per_transistor * area`` ([PET] leakage per transistor).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixforge.errors import ConfigError

if TYPE_CHECKING:
    from mixforge.sim.arch.device import ArchConfig
    from mixforge.sim.cost.tables import EnergyConfig

__all__ = ["PeRtl", "load_pe_rtl", "with_pe_rtl", "rtl_mac_pj", "rtl_static_w", "pe_area",
           "array_transistors"]


@dataclass(frozen=True)
class PeRtl:
    """Synthesis figures of one generated PE.

    Parameters
    ----------
    name, kind
        PE config name and generator kind (``shift_add``, ``mul_dequant_first``, ...).
    core_transistors
        ``parts.core.cmos_transistors_incl_ff`` (the whole PE when it has no parts).
    total_transistors
        ``cmos_transistors_incl_ff`` of the whole PE.
    cells, flip_flops
        Yosys cell and flip-flop counts of the whole PE.
    source
        The JSON file the figures come from.
    operands
        ``(w_format, a_format)`` the PE multiplies (from the JSON's ``kind``/``params``), or
        ``None`` when it is not a single pair (multi-format PEs). MACs of other formats are
        charged from the energy table, not from this PE.
    sha256
        Content hash of ``source`` (first 16 hex digits).
    """

    name: str
    kind: str
    core_transistors: int
    total_transistors: int
    cells: int = 0
    flip_flops: int = 0
    source: str = ""
    operands: tuple[str, str] | None = None
    sha256: str = ""

    def computes(self, w: str, a: str) -> bool:
        """True when MACs with weight format ``w`` and activation ``a`` run on this PE
        (``operands`` unknown, e.g. multi-format PEs: every mode)."""
        return self.operands is None or self.operands == (w, a)

    def __post_init__(self) -> None:
        for f in ("core_transistors", "total_transistors"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"must be a positive integer, not {v!r}", path=f)
        if self.core_transistors > self.total_transistors:
            raise ConfigError(f"core ({self.core_transistors}) exceeds the whole PE "
                              f"({self.total_transistors})", path="parts.core")


def _int(data: dict[str, Any], key: str, file: str, where: str) -> int:
    v = data.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        what = "missing" if v is None else f"must be a positive integer, not {v!r}"
        raise ConfigError(what, file=file, path=f"{where}{key}")
    return v


def _operands(kind: str, params: Any) -> tuple[str, str] | None:
    """The single (weight, activation) format pair a generated PE computes, if it has one."""
    if not isinstance(params, dict) or not isinstance(params.get("k"), int):
        return None
    w = f"int{params['k']}"
    if kind == "shift_add":
        return (w, "int8" if params.get("act", "int8") == "int8" else "float16")
    if kind == "mul_dequant_first":
        return (w, "int8")
    if kind.startswith("fp16_mac"):
        return (w, "float16")
    return None


def load_pe_rtl(path: str | Path) -> PeRtl:
    """Read a ``mixforge synth pe --json`` file (generic target).

    Raises ``ConfigError`` naming the file (and the field) when it is missing, not JSON, not a
    generic-target synthesis result, or lacks the transistor counts.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 JSON text (mixforge synth pe --json)", file=file) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg} (line {exc.lineno})", file=file) from None
    if not isinstance(data, dict):
        raise ConfigError("top level must be an object (mixforge synth pe --json)", file=file)
    if data.get("target", "generic") != "generic":
        raise ConfigError(f"must be 'generic' (transistor counts), not {data['target']!r}",
                          file=file, path="target")
    total = _int(data, "cmos_transistors_incl_ff", file, "")
    parts = data.get("parts") or {}
    if not isinstance(parts, dict):
        raise ConfigError("must be an object", file=file, path="parts")
    core = parts.get("core")
    if core is None:
        core_t = total
    elif isinstance(core, dict):
        core_t = _int(core, "cmos_transistors_incl_ff", file, "parts.core.")
    else:
        raise ConfigError("must be an object", file=file, path="parts.core")
    name, kind = data.get("name"), data.get("kind")
    for key, v in (("name", name), ("kind", kind)):
        if not isinstance(v, str) or not v:
            raise ConfigError("missing" if v is None else f"must be a string, not {v!r}",
                              file=file, path=key)
    try:
        return PeRtl(name=str(name), kind=str(kind), core_transistors=core_t,
                     total_transistors=total, cells=int(data.get("cells", 0)),
                     flip_flops=int(data.get("flip_flops", 0)), source=file,
                     operands=_operands(str(kind), data.get("params")),
                     sha256=hashlib.sha256(raw).hexdigest()[:16])
    except ConfigError as exc:
        raise ConfigError(exc.detail, file=file, path=exc.path) from None


def with_pe_rtl(arch: ArchConfig, rtl: PeRtl | str | Path) -> ArchConfig:
    """``arch`` with its xPU PE's energy, static power and area taken from ``rtl``."""
    from dataclasses import replace

    return replace(arch, pe_rtl=rtl if isinstance(rtl, PeRtl) else load_pe_rtl(rtl))


def rtl_mac_pj(rtl: PeRtl, cfg: EnergyConfig) -> float:
    """Energy of one MAC on the measured PE (module doc)."""
    return cfg.ref_mac_pj * rtl.core_transistors / cfg.rtl_ref_transistors * cfg.mac_scale


def _pes(arch: ArchConfig) -> int:
    return arch.xpu.cores * arch.xpu.array.rows * arch.xpu.array.cols


def array_transistors(arch: ArchConfig, rtl: PeRtl) -> int:
    """Transistors of all the xPU's PE arrays built from ``rtl`` (module doc's area model)."""
    return _array_transistors(arch, rtl)


def _array_transistors(arch: ArchConfig, rtl: PeRtl) -> int:
    cols = arch.xpu.cores * arch.xpu.array.cols
    return rtl.core_transistors * _pes(arch) + (rtl.total_transistors - rtl.core_transistors) * cols


def rtl_static_w(arch: ArchConfig) -> float:
    """Leakage of the xPU's PE arrays built from ``arch.pe_rtl`` (0 without one)."""
    if arch.pe_rtl is None:
        return 0.0
    return arch.energy.leak_nw_per_transistor * 1e-9 * _array_transistors(arch, arch.pe_rtl)


def pe_area(arch: ArchConfig) -> dict[str, Any] | None:
    """Area and energy figures of the measured PE array (``None`` without ``pe_rtl``)."""
    rtl = arch.pe_rtl
    if rtl is None:
        return None
    return {"pe": rtl.name, "kind": rtl.kind, "source": rtl.source,
            "transistors_per_pe": rtl.total_transistors,
            "core_transistors_per_pe": rtl.core_transistors, "pes": _pes(arch),
            "array_transistors": _array_transistors(arch, rtl),
            "e_mac_pj": rtl_mac_pj(rtl, arch.energy), "static_w": rtl_static_w(arch)}
