"""Verilog export: the one function every ``mixforge gen`` goes through.

Every Verilog file is written next to a JSON sidecar holding the generator name, every parameter,
latency/throughput and a SHA-256 of the Verilog text, so a file always says what it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixforge.errors import ConfigError

__all__ = ["Exported", "to_verilog", "write_verilog"]


@dataclass(frozen=True)
class Exported:
    """Paths and hash of one exported design."""

    verilog: Path
    sidecar: Path
    sha256: str
    toplevel: str


def to_verilog(component: Any, name: str) -> str:
    """Convert an Amaranth ``wiring.Component`` to Verilog text with toplevel module ``name``."""
    from amaranth.back import verilog

    if not name.isidentifier():
        raise ConfigError(f"module name must be a Verilog identifier, not {name!r}", path="name")
    return str(verilog.convert(component, name=name, emit_src=False))


def write_verilog(component: Any, name: str, out_dir: str | Path, *,
                  generator: str, params: Mapping[str, Any], latency: int | None = None,
                  throughput: float | None = None,
                  extra: Mapping[str, Any] | None = None) -> Exported:
    """Write ``out_dir/<name>.v`` and ``out_dir/<name>.json``; return their paths and hash.

    The sidecar holds ``generator``, ``params`` (JSON-serialisable), ``latency``, ``throughput``,
    ``sha256`` of the Verilog text, and anything in ``extra``.
    """
    text = to_verilog(component, name)
    from mixforge.outputs import check_dir, write_text

    out = check_dir(out_dir, "--out")
    digest = hashlib.sha256(text.encode()).hexdigest()
    vpath = out / f"{name}.v"
    jpath = out / f"{name}.json"
    meta = {"name": name, "toplevel": name, "generator": generator, "params": dict(params),
            "latency": latency, "throughput": throughput, "sha256": digest,
            **dict(extra or {})}
    # temp name + os.replace, sidecar first: a process that finds the .v (content-keyed caches
    # shared by parallel test workers) finds both files whole
    write_text(jpath, json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", "--out")
    write_text(vpath, text, "--out")
    return Exported(verilog=vpath, sidecar=jpath, sha256=digest, toplevel=name)
