"""Device YAMLs that reference RTL configs: resolve them, and say where every figure came from.

A device's ``xpu.array``, ``xpu.pe`` and ``pim`` may name the config the RTL is generated from
(paths relative to the device YAML) and scale it::

    xpu:
      array: {config: ../array/ws_4x4_w4a8_dequant.yaml, rows: 64, cols: 64, acc_depth: 256}
      pe: {config: ../pe/shift_add_w4a8.yaml, acc_bits: 32}
    pim: {kind: logic, unit: ../pim/duplex_unit.yaml, units_per_pc: 1, freq_hz: 1.3e+9, ...}

* ``xpu.array.config``: an ``examples/array`` file. Its :class:`ArraySpec` (dataflow, edge
  latency, accumulator depth) is the array's timing; ``rows`` / ``cols`` scale it and
  ``double_buffer`` / ``acc_depth`` / ``group`` set generator parameters (checked by
  ``ArrayConfig``). The PE's ``kind``, ``late_dequant`` and RTL modes come from the cells.
* ``xpu.pe.config``: an ``examples/pe`` file; its modes must match the array's cells, and its
  synthesis JSON ``rtl/<name>.synth.json`` next to it (when present) gives energy and area.
* ``pim.unit``: an ``examples/pim`` file; ``lanes``, ``modes`` and ``buffer_bytes`` come from
  its :class:`mixforge.hw.specs.pim.PimSpec`.

Modes the YAML adds beyond the referenced RTL must say ``modelled: true``; every output names
the RTL config (and its content hash) behind its timing and energy, or "modelled, no RTL".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixforge.config import to_dict
from mixforge.errors import ConfigError
from mixforge.hw.specs.vocab import CELL_FAMILY, MODELLED, PE_GENERATOR_CELL, pe_generator_modes

if TYPE_CHECKING:
    from mixforge.sim.arch.device import ArchConfig

__all__ = ["RtlRef", "resolve_refs", "provenance", "file_sha256"]

#: Keys a referencing ``xpu.array`` may set besides ``config``.
_ARRAY_KEYS = ("rows", "cols", "double_buffer", "acc_depth", "group")


def file_sha256(path: str | Path) -> str:
    """First 16 hex digits of the SHA-256 of a file's bytes (``sha256sum`` prefix)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class RtlRef:
    """One RTL config a device was built from.

    ``role`` is ``xpu.array``, ``xpu.pe`` or ``pim.unit``; ``name`` the generated design's name;
    ``sha256`` the config file's content hash; ``scaled`` the generator parameters the device
    sets; ``size`` the config's own ``(rows, cols)`` (arrays; the device's size is in its
    ``ArraySpec``, which :func:`provenance` reports beside it).
    """

    role: str
    path: str
    sha256: str
    name: str
    scaled: str = ""
    size: tuple[int, int] | None = None

    def label(self, rows: int = 0, cols: int = 0) -> str:
        """``RTL name (path, sha256 ..., <size> -> RxC, params)``."""
        notes = []
        if self.size is not None and rows and (rows, cols) != self.size:
            notes.append(f"scaled {self.size[0]}x{self.size[1]} -> {rows}x{cols}")
        if self.scaled:
            notes.append(self.scaled)
        extra = "".join(f", {n}" for n in notes)
        return f"RTL {self.name} ({self.path}, sha256 {self.sha256}{extra})"


def _where(file: str | None, rel: Any, path: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise ConfigError(f"must be a file path, not {rel!r}", file=file, path=path)
    p = Path(rel)
    where = p if p.is_absolute() or file is None else Path(file).parent / p
    if not where.is_file():
        raise ConfigError(f"no such file: {where}", file=file, path=path)
    return where


def _merge_modes(rtl: list[tuple[str, str, int]], given: Any, src: str, file: str | None,
                 path: str) -> list[dict[str, Any]]:
    """The RTL's modes first, then the YAML's extra modes, each of which must be modelled."""
    out: list[dict[str, Any]] = [{"w": w, "a": a, "lanes": n} for w, a, n in rtl]
    if given is None:
        return out
    if not isinstance(given, list):
        raise ConfigError(f"must be a list, not {given!r}", file=file, path=path)
    from mixforge.models.formats import get_format

    for i, m in enumerate(given):
        if not isinstance(m, dict):
            raise ConfigError(f"must be a mapping, not {m!r}", file=file, path=f"{path}[{i}]")
        try:
            w, a = get_format(str(m.get("w"))).name, get_format(str(m.get("a"))).name
        except Exception as exc:  # noqa: BLE001 -- FormatError: reported with the path
            raise ConfigError(str(exc), file=file, path=f"{path}[{i}]") from None
        same = [d for d in out if (d["w"], d["a"]) == (w, a)]
        if same and not m.get("modelled"):
            if m.get("lanes", same[0]["lanes"]) != same[0]["lanes"]:
                raise ConfigError(f"{src} builds w={w} a={a} with lanes={same[0]['lanes']}, "
                                  f"not {m['lanes']}", file=file, path=f"{path}[{i}].lanes")
            continue
        if not m.get("modelled"):
            raise ConfigError(f"{src} does not build w={w} a={a}; mark the mode "
                              "'modelled: true' to simulate it by hand", file=file,
                              path=f"{path}[{i}]")
        out = [d for d in out if (d["w"], d["a"]) != (w, a)] + [dict(m)]
    return out


def _array(xpu: dict[str, Any], file: str | None) -> tuple[dict[str, Any], list[RtlRef]]:
    from mixforge.hw.array.config import load_array_file

    arr = xpu["array"]
    unknown = [k for k in arr if k not in ("config",) + _ARRAY_KEYS]
    if unknown:
        raise ConfigError(f"cannot be set when the array references an RTL config (settable: "
                          f"{', '.join(_ARRAY_KEYS)}; edit the config instead)", file=file,
                          path=f"xpu.array.{unknown[0]}")
    where = _where(file, arr["config"], "xpu.array.config")
    cfg = load_array_file(where).array
    params = {k: arr[k] for k in ("double_buffer", "acc_depth", "group") if k in arr}
    try:
        cfg = replace(cfg, **params)
    except ConfigError as exc:
        raise ConfigError(exc.detail, file=file, path=f"xpu.array.{exc.path}") from None
    spec = cfg.spec
    rows, cols = arr.get("rows", cfg.rows), arr.get("cols", cfg.cols)
    try:
        spec = replace(spec, rows=rows, cols=cols)
    except ConfigError as exc:
        raise ConfigError(exc.detail, file=file, path=f"xpu.array.{exc.path}") from None
    scaled = ", ".join(f"{k}={v}" for k, v in params.items())
    ref = RtlRef("xpu.array", str(arr["config"]), file_sha256(where), cfg.name, scaled,
                 (cfg.rows, cfg.cols))
    pe = dict(xpu.get("pe") or {})
    for key in ("kind", "late_dequant"):
        if key in pe:
            raise ConfigError(f"is derived from the array's RTL config ({arr['config']}); "
                              "remove it", file=file, path=f"xpu.pe.{key}")
    pe["kind"] = cfg.family
    pe["late_dequant"] = cfg.dequant
    pe["modes"] = _merge_modes(list(cfg.modes), pe.get("modes"), cfg.name, file, "xpu.pe.modes")
    return {**xpu, "array": to_dict(spec), "pe": pe}, [ref]


def _pe(xpu: dict[str, Any], file: str | None, array_family: str | None
        ) -> tuple[dict[str, Any], list[RtlRef]]:
    from mixforge.hw.pe.specs import load_pe_config

    pe = dict(xpu["pe"])
    where = _where(file, pe.pop("config"), "xpu.pe.config")
    cfg = load_pe_config(where)
    kind = str(cfg.spec.kind)
    family = CELL_FAMILY[PE_GENERATOR_CELL[kind]]
    modes = list(pe_generator_modes(kind, cfg.spec))
    if array_family is not None:
        if family != array_family:
            raise ConfigError(f"PE config {cfg.name} is a {family} PE, the array's cells are "
                              f"{array_family}", file=file, path="xpu.pe.config")
        have = {(d["w"], d["a"]) for d in pe["modes"] if not d.get("modelled")}
        if not {(w, a) for w, a, _ in modes} <= have:
            raise ConfigError(f"PE config {cfg.name} computes {modes}, which the array's cells "
                              "do not", file=file, path="xpu.pe.config")
    else:
        for key in ("kind", "late_dequant"):
            if key in pe:
                raise ConfigError("is derived from the PE's RTL config; remove it", file=file,
                                  path=f"xpu.pe.{key}")
        pe["kind"] = family
        pe["late_dequant"] = kind == "shift_add"  # MixPE: one dequantization per group
        pe["modes"] = _merge_modes(modes, pe.get("modes"), cfg.name, file, "xpu.pe.modes")
    if "rtl" not in pe:
        synth = where.parent / "rtl" / f"{cfg.name}.synth.json"
        if synth.is_file():
            rel = not synth.is_absolute() and file is not None
            pe["rtl"] = os.path.relpath(synth, Path(str(file)).parent) if rel else str(synth)
    ref = RtlRef("xpu.pe", str(xpu["pe"]["config"]), file_sha256(where), cfg.name)
    return {**xpu, "pe": pe}, [ref]


def _pim(pim: dict[str, Any], file: str | None) -> tuple[dict[str, Any], list[RtlRef]]:
    from mixforge.hw.pim.config import load_pim_file

    for key in ("lanes", "buffer_bytes"):
        if key in pim:
            raise ConfigError(f"is derived from the RTL unit ({pim['unit']}); remove it",
                              file=file, path=f"pim.{key}")
    where = _where(file, pim["unit"], "pim.unit")
    unit = load_pim_file(where).pim
    spec = unit.spec
    out = dict(pim)
    out["lanes"] = 1
    out["buffer_bytes"] = spec.buffer_bytes
    out["modes"] = _merge_modes(list(spec.modes()), pim.get("modes"), unit.name, file,
                                "pim.modes")
    return out, [RtlRef("pim.unit", str(pim["unit"]), file_sha256(where), unit.name)]


def resolve_refs(data: dict[str, Any], file: str | None
                 ) -> tuple[dict[str, Any], tuple[RtlRef, ...]]:
    """Replace RTL config references in a device mapping by what they derive (module doc)."""
    refs: list[RtlRef] = []
    xpu = data.get("xpu")
    if isinstance(xpu, dict):
        family = None
        if isinstance(xpu.get("array"), dict) and "config" in xpu["array"]:
            xpu, got = _array(xpu, file)
            refs += got
            family = xpu["pe"]["kind"]
        if isinstance(xpu.get("pe"), dict) and "config" in xpu["pe"]:
            xpu, got = _pe(xpu, file, family)
            refs += got
        data = {**data, "xpu": xpu}
    pim = data.get("pim")
    if isinstance(pim, dict) and "unit" in pim:
        pim, got = _pim(pim, file)
        data = {**data, "pim": pim}
        refs += got
    return data, tuple(refs)


def _ref(arch: ArchConfig, role: str) -> RtlRef | None:
    return next((r for r in arch.refs if r.role == role), None)


def provenance(arch: ArchConfig, unit: str, w: str, a: str) -> dict[str, str]:
    """Where an op's ``timing`` and ``energy`` came from: RTL configs with their content hash,
    or "modelled, no RTL" and why."""
    if unit == "pim":
        pim = arch.pim
        ref = _ref(arch, "pim.unit")
        if pim is None or ref is None:
            timing = f"{MODELLED} (hand-written pim: lanes, modes)"
        elif pim.is_modelled(w, a):
            timing = f"{MODELLED} (mode w={w} a={a} is not built by {ref.name})"
        else:
            timing = (f"{ref.label()}: MACs/cycle from its PimSpec; DRAM streaming from the "
                      "device's HBM model")
        return {"timing": timing, "energy": f"{MODELLED} (energy table: no PIM synthesis "
                                            "figures are read)"}
    aref = _ref(arch, "xpu.array")
    if aref is None:
        timing = f"{MODELLED} (hand-written xpu.array ArraySpec and xpu.pe)"
    elif arch.xpu.pe.is_modelled(w, a):
        timing = f"{MODELLED} (mode w={w} a={a} is not built by {aref.name})"
    else:
        timing = aref.label(arch.xpu.array.rows, arch.xpu.array.cols)
    rtl = arch.pe_rtl
    if rtl is not None and rtl.computes(w, a):
        energy = f"RTL synthesis {rtl.name} ({rtl.source}, sha256 {rtl.sha256})"
    else:
        why = "no xpu.pe.rtl" if rtl is None else f"{rtl.name} does not compute w={w} a={a}"
        energy = f"{MODELLED} (energy table; {why})"
    return {"timing": timing, "energy": energy}
