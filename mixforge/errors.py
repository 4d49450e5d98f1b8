"""Typed exceptions raised by library code; only ``mixforge.cli`` turns them into exit codes."""

from __future__ import annotations

__all__ = ["MixforgeError", "ConfigError", "FormatError", "ToolchainError", "VerificationError"]


class MixforgeError(Exception):
    """Base class of every error mixforge raises on purpose (bad input, missing tool)."""


class ConfigError(MixforgeError, ValueError):
    """A configuration (YAML file or parameter set) is malformed or impossible.

    The message names the file (when there is one) and the dotted field path:
    ``hw.yaml: xpu.array.rows: must be a positive integer, not -4``.
    """

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None):
        self.file = file
        self.path = path
        self.detail = message
        parts = [p for p in (file, path) if p]
        super().__init__(": ".join([*parts, message]))


class FormatError(MixforgeError, ValueError):
    """A number format is unknown or impossible, or bit patterns are invalid for it."""


class ToolchainError(MixforgeError, RuntimeError):
    """An external tool (Verilator, Yosys, a C++ compiler, ...) is missing or failed."""


class VerificationError(MixforgeError, AssertionError):
    """RTL simulation disagreed with the reference model."""
