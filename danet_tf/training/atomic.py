"""Atomic file writes for the work directory: temporary file, fsync, rename.

A reader (or a resumed run) sees either the old file or the new one, never a half-written
one: ``os.replace`` is atomic on POSIX file systems, and the data are on disk before the
rename. Every log, summary and picture the training loop writes goes through here.

Fault injection (tests only): ``DANET_TF_FAULT=kill-in-rewrite:<file name>`` makes the
process SIGKILL itself halfway through writing the temporary copy of that file, the worst
moment for a non-atomic rewrite.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

FAULT_ENV = "DANET_TF_FAULT"


def _fault(path: Path) -> bool:
    spec = os.environ.get(FAULT_ENV, "")
    kind, _, name = spec.partition(":")
    return kind == "kill-in-rewrite" and name == path.name


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same-directory temporary, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        if _fault(path):
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def remove_stale_temporaries(directory: Path) -> None:
    """Temporaries left by a killed writer (``.<name>.tmp-<pid>``) are not data: drop them."""
    if directory.is_dir():
        for tmp in directory.glob(".*.tmp-*"):
            try:
                tmp.unlink()
            except OSError:
                pass
