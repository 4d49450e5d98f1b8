"""Files and folders the CLI writes: checked before the work starts, written atomically.

Every command that writes a file calls :func:`check_file` (or :func:`check_dir` for an output
folder) on its argument before doing any work, so an unwritable path costs nothing, and writes
with :func:`write_text`: the text goes to a temporary file in the same folder, which is renamed
into place, so a crash or Ctrl-C never leaves a half-written file under the user's name. Errors
are ``ConfigError`` naming the flag (``--json``) and the path, one line for the CLI.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mixforge.errors import ConfigError

__all__ = ["check_file", "check_dir", "write_text"]


def _ensure_folder(folder: Path, flag: str, what: str, *, keep: bool = True) -> None:
    """Create ``folder`` (and its parents) or raise; ``keep=False`` removes what it created
    (a check before the work starts must not leave empty folders behind when the work fails)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for p in (folder, *folder.parents):
        if p.exists() and not p.is_dir():
            raise ConfigError(f"{p} is a file, not a folder", path=flag)
        if p.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {folder}: {exc.strerror or exc}",
                          path=flag) from None
    writable = os.access(folder, os.W_OK | os.X_OK)
    if not keep:
        for p in missing:  # deepest first
            with contextlib.suppress(OSError):
                p.rmdir()
    if not writable:
        raise ConfigError(f"cannot write into {folder}: permission denied", path=flag)


def check_file(path: str | os.PathLike[str], flag: str, *, create: bool = False) -> Path:
    """Check that ``path`` can be written as a file; return it.

    Raises ``ConfigError`` at ``flag`` when ``path`` is a folder, or its folder cannot be
    created or written. The folder is created only with ``create`` (otherwise a probe folder
    is created and removed again).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"{p} is a folder, not a file", path=flag)
    if p.exists() and not os.access(p, os.W_OK):
        raise ConfigError(f"cannot write {p}: permission denied", path=flag)
    _ensure_folder(p.parent, flag, "folder", keep=create)
    return p


def check_dir(path: str | os.PathLike[str], flag: str, *, create: bool = True) -> Path:
    """Check that ``path`` is (or can be created as) a writable folder; return it.

    ``create=False`` probes: a folder it had to make is removed again.
    """
    p = Path(path).expanduser()
    _ensure_folder(p, flag, "folder", keep=create)
    return p


def write_text(path: str | os.PathLike[str], text: str, flag: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename); return the path.

    The temporary file lives in the destination folder (a rename never crosses file systems)
    and is removed if anything fails, including ``KeyboardInterrupt``.
    """
    p = check_file(path, flag, create=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {p}: {exc.strerror or exc}", path=flag) from None
        raise
    return p
