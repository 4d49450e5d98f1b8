"""Point kinds: how a sweep turns a base config into a resolved config and evaluates one point.

A kind resolves the spec's ``base`` mapping into a *fully resolved* config (every default filled
in, so the store's key changes whenever anything that matters changes) and evaluates one such
config to a :class:`PointResult`: scalar ``metrics`` plus a ``detail`` mapping the report draws
from (``energy_j`` / ``time_s`` by component, ``ops`` placed on the roofline with their class,
``roof`` peaks). Evaluation runs in workers: it must only return, never write.

Kinds: ``op`` (one GEMM, ``mixforge sim op``), ``synth_pe`` / ``synth_array`` (Yosys area of a
PE / PE array, cached on disk by the design's hash since Yosys takes minutes), and the sibling
packages' ``model`` / ``serve`` kinds, registered in :mod:`mixforge.reports.kinds_workloads`
when those packages are installed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from mixforge.errors import ConfigError

__all__ = ["PointKind", "PointResult", "KINDS", "register_kind", "get_kind", "canonical_json",
           "resolve_path"]


@dataclass(frozen=True)
class PointResult:
    """What a worker returns for one point (``metrics`` scalars; ``detail`` for the report)."""

    metrics: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PointKind:
    """One kind of sweep point.

    Parameters
    ----------
    name
        The spec's ``kind:`` value.
    resolve
        ``(base mapping, spec file) -> resolved config``; raises ``ConfigError`` naming the
        spec file and ``base.<field>``.
    evaluate
        ``resolved config -> PointResult``; raises for a point that cannot be evaluated (the
        coordinator stores the error and the sweep goes on).
    metrics
        Names of the scalar metrics ``evaluate`` returns (the spec's ``metrics:`` choose among
        them); ``primary`` are the Pareto axes the report uses by default.
    normalise
        Applied to each point's config after its axes are set (e.g. a recipe axis given by
        name becomes the full recipe), so the key hashes what is really evaluated.
    """

    name: str
    resolve: Callable[[dict[str, Any], str], dict[str, Any]]
    evaluate: Callable[[dict[str, Any]], PointResult]
    metrics: tuple[str, ...]
    primary: tuple[str, ...] = ("seconds", "energy_j")
    description: str = ""
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None


KINDS: dict[str, PointKind] = {}


def register_kind(kind: PointKind) -> None:
    """Add (or replace) a point kind."""
    KINDS[kind.name] = kind


def get_kind(name: str, *, file: str | None = None) -> PointKind:
    """The kind called ``name``; ``ConfigError`` on ``kind`` listing the known ones."""
    _load_optional_kinds()
    if name not in KINDS:
        raise ConfigError(f"unknown point kind {name!r} (known: {', '.join(sorted(KINDS))})",
                          file=file, path="kind")
    return KINDS[name]


def _load_optional_kinds() -> None:
    # model / serve points come from the workloads packages' public APIs
    for mod in ("mixforge.reports.kinds_workloads", "mixforge.reports.kinds_serving"):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass


def canonical_json(obj: Any) -> str:
    """The one JSON text of ``obj`` that is hashed (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def resolve_path(value: Any, spec_file: str, where: str) -> Path:
    """A file named in a spec, relative to the spec's folder; ``ConfigError`` when missing."""
    if not isinstance(value, str):
        raise ConfigError(f"must be a file path, not {value!r}", file=spec_file, path=where)
    p = Path(value)
    if not p.is_absolute():
        p = Path(spec_file).parent / p
    if not p.is_file():
        raise ConfigError(f"no such file: {p}", file=spec_file, path=where)
    return p


def _keys(data: dict[str, Any], allowed: set[str], file: str, path: str) -> None:
    for k in data:
        if k not in allowed:
            raise ConfigError(f"unknown key (known keys: {', '.join(sorted(allowed))})",
                              file=file, path=f"{path}.{k}")


# --------------------------------------------------------------------------- op
def _resolve_hw(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.config import to_dict
    from mixforge.sim.arch import load_arch
    from mixforge.sim.cost.rtl import with_pe_rtl

    if "hw" not in base:
        raise ConfigError("missing required key (a hardware YAML file)", file=file,
                          path="base.hw")
    arch = load_arch(resolve_path(base["hw"], file, "base.hw"))
    if base.get("pe_rtl") is not None:
        arch = with_pe_rtl(arch, resolve_path(base["pe_rtl"], file, "base.pe_rtl"))
    hw: dict[str, Any] = to_dict(arch)
    # the figures are in hw.pe_rtl now; the file name was relative to the YAML (set
    # hw.pe_rtl: null to drop them)
    hw["xpu"]["pe"]["rtl"] = ""
    return hw


def _resolve_op(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.sim.mapping.ops import Gemm

    _keys(base, {"hw", "pe_rtl", "op", "unit", "dispatch"}, file, "base")
    hw = _resolve_hw(base, file)
    op = base.get("op")
    if not isinstance(op, dict):
        raise ConfigError("must be a mapping of Gemm fields (m, k, n, w, a, ...)", file=file,
                          path="base.op")
    names = {f.name: f for f in dataclasses.fields(Gemm)}
    _keys(op, set(names), file, "base.op")
    full = {n: f.default for n, f in names.items()
            if f.default is not dataclasses.MISSING}
    full.update(op)
    first = hw["xpu"]["pe"]["modes"][0]
    full.setdefault("w", first["w"])
    full.setdefault("a", first["a"])
    return {"hw": hw, "op": full, "unit": base.get("unit"),
            "dispatch": base.get("dispatch", "threshold")}


@lru_cache(maxsize=64)
def _simulator(hw_json: str, dispatch: str) -> Any:
    from mixforge.sim.arch import arch_from_dict
    from mixforge.sim.engine.simulator import Dispatch, Simulator

    try:
        arch = arch_from_dict(json.loads(hw_json), file=None)
    except ConfigError as exc:
        raise ConfigError(exc.detail, path=f"hw.{exc.path}" if exc.path else "hw") from None
    return Simulator(arch, dispatch=cast(Dispatch, dispatch))


def _evaluate_op(cfg: dict[str, Any]) -> PointResult:
    from mixforge.config import from_dict
    from mixforge.sim.cost.rtl import pe_area
    from mixforge.sim.mapping.ops import Gemm

    sim = _simulator(canonical_json(cfg["hw"]), cfg.get("dispatch") or "threshold")
    arch = sim.arch
    op = from_dict(Gemm, dict(cfg["op"]), path="op")
    unit = cfg.get("unit")
    if unit not in (None, "xpu", "pim"):
        raise ConfigError(f"must be xpu, pim or null, not {unit!r}", path="unit")
    res = sim.run_op(op, unit)
    if res.unit == "pim" and arch.pim is not None:
        peak_macs = arch.pim.peak_macs_per_s(arch.hbm, op.w, op.a)
        bw = arch.pim.bw_bytes_per_s(arch.hbm)
    else:
        peak_macs = arch.xpu.peak_macs_per_s(op.w, op.a)
        bw = arch.hbm.peak_bw_bytes_per_s
    area = pe_area(arch)
    ops = 2 * res.macs
    metrics: dict[str, Any] = {
        "seconds": res.seconds, "cycles": res.cycles, "energy_j": res.energy_j,
        "roofline_seconds": res.roofline_seconds, "utilisation": res.utilisation,
        "bound": res.bound, "unit": res.unit, "macs": res.macs, "dram_bytes": res.dram_bytes,
        "compute_seconds": res.compute_seconds, "memory_seconds": res.memory_seconds,
        "tiles": res.tiles, "ops_per_s": ops / res.seconds if res.seconds else 0.0,
        "intensity_ops_per_byte": ops / res.dram_bytes if res.dram_bytes else None,
        "peak_ops_per_s": 2 * peak_macs, "peak_bw_bytes_per_s": bw,
        "energy_per_mac_pj": res.energy_j / res.macs * 1e12 if res.macs else None,
        "array_transistors": area["array_transistors"] if area else None,
        "pe_transistors": area["transistors_per_pe"] if area else None,
        "pes": arch.xpu.cores * arch.xpu.array.rows * arch.xpu.array.cols,
        "energy_model": ("action counts x table; PE MACs and leakage from RTL synthesis"
                         if area else "action counts x table (sim/cost/tables.py)"),
        "area_model": f"Yosys CMOS transistors of {area['pe']}" if area else None,
    }
    detail = {
        "energy_j": res.energy.as_dict(),
        "time_s": {"compute": res.compute_seconds, "memory": res.memory_seconds,
                   "simulated": res.seconds},
        "ops": [{"name": op.name, "cls": "gemm", "unit": res.unit, "ops": ops,
                 "bytes": res.dram_bytes, "seconds": res.seconds, "energy_j": res.energy_j,
                 "energy": res.energy.as_dict()}],
        "roof": {res.unit: {"peak_ops_per_s": 2 * peak_macs, "bw_bytes_per_s": bw}},
    }
    return PointResult(metrics, detail)


OP_METRICS = ("seconds", "cycles", "energy_j", "roofline_seconds", "utilisation", "bound", "unit",
              "macs", "dram_bytes", "compute_seconds", "memory_seconds", "tiles", "ops_per_s",
              "intensity_ops_per_byte", "peak_ops_per_s", "peak_bw_bytes_per_s",
              "energy_per_mac_pj", "array_transistors", "pe_transistors", "pes", "energy_model",
              "area_model")

register_kind(PointKind("op", _resolve_op, _evaluate_op, OP_METRICS,
                        ("seconds", "energy_j", "array_transistors"),
                        "one GEMM on a device (mixforge sim op)"))


# --------------------------------------------------------------------------- synth
def _synth_cache(kind: str, cfg: dict[str, Any], run: Callable[[], dict[str, Any]]
                 ) -> dict[str, Any]:
    """Yosys figures of a design, cached on disk by the hash of the design's config."""
    from mixforge import __version__
    from mixforge.toolchain import cache_dir

    digest = hashlib.sha256(canonical_json([kind, cfg, __version__]).encode()).hexdigest()[:24]
    path = cache_dir() / "synth" / f"{kind}-{digest}.json"
    if path.is_file():
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except (OSError, ValueError):
            pass  # a torn cache file: synthesize again
    fig = run()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(fig))
    os.replace(tmp, path)
    return fig


def _resolve_synth_pe(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.config import load_yaml, to_dict
    from mixforge.hw.pe.specs import pe_config_from_dict

    _keys(base, {"pe"}, file, "base")
    path = resolve_path(base.get("pe"), file, "base.pe")
    cfg = pe_config_from_dict(load_yaml(path), file=str(path))
    spec = to_dict(cfg.spec)
    return {"name": cfg.name, "pe": {"kind": cfg.spec.kind, **spec}}


def _synth_metrics(fig: dict[str, Any]) -> dict[str, Any]:
    core = fig.get("parts", {}).get("core", {})
    return {"cmos_transistors": fig.get("cmos_transistors"),
            "cmos_transistors_incl_ff": fig.get("cmos_transistors_incl_ff"),
            "core_transistors": core.get("cmos_transistors_incl_ff"),
            "cells": fig.get("cells"), "flip_flops": fig.get("flip_flops"),
            "yosys_s": fig.get("yosys_s"),
            "area_model": "Yosys generic synth + abc -g cmos2 (stat -tech cmos), 24 T per FF"}


def _evaluate_synth_pe(cfg: dict[str, Any]) -> PointResult:
    from mixforge.hw.pe.specs import pe_config_from_dict
    from mixforge.hw.pe.synth import synth_pe

    pc = pe_config_from_dict({"name": cfg["name"], "pe": cfg["pe"]}, file=None)
    fig = _synth_cache("pe", cfg, lambda: synth_pe(pc.spec, pc.name, pnr=False))
    return PointResult(_synth_metrics(fig), {"cells_by_type": fig.get("cells_by_type", {})})


def _resolve_synth_array(base: dict[str, Any], file: str) -> dict[str, Any]:
    from mixforge.config import from_dict, load_yaml
    from mixforge.hw.array.config import ArrayConfig

    _keys(base, {"array"}, file, "base")
    path = resolve_path(base.get("array"), file, "base.array")
    data = load_yaml(path).get("array")
    cfg = from_dict(ArrayConfig, data, file=str(path), path="array")
    full = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.init}
    return {"array": json.loads(canonical_json(full))}


def _evaluate_synth_array(cfg: dict[str, Any]) -> PointResult:
    from mixforge.config import from_dict
    from mixforge.hw.array.config import ArrayConfig
    from mixforge.hw.array.synth import synth_array

    ac = from_dict(ArrayConfig, dict(cfg["array"]), path="array")
    fig = _synth_cache("array", cfg, lambda: synth_array(ac))
    m = _synth_metrics(fig)
    m.pop("core_transistors")
    m["memory_bits"] = fig.get("memory_bits")
    return PointResult(m, {"cells_by_type": fig.get("cells_by_type", {})})


_SYNTH = ("cmos_transistors", "cmos_transistors_incl_ff", "cells", "flip_flops", "yosys_s",
          "area_model")
register_kind(PointKind("synth_pe", _resolve_synth_pe, _evaluate_synth_pe,
                        (*_SYNTH, "core_transistors"), ("cmos_transistors_incl_ff", "cells"),
                        "Yosys area of one PE (mixforge synth pe)"))
register_kind(PointKind("synth_array", _resolve_synth_array, _evaluate_synth_array,
                        (*_SYNTH, "memory_bits"), ("cmos_transistors_incl_ff", "cells"),
                        "Yosys area of one PE array (mixforge synth array)"))
