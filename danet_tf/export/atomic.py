"""Atomic writes: an artifact appears under its final name complete or not at all.

Everything is written in a scratch directory beside the target (same file system, so the
final rename never copies) and moved into place once the writer returned:

- a file with ``os.replace``;
- a SavedModel directory that replaces an existing one with Linux's ``renameat2`` and
  ``RENAME_EXCHANGE``: the old and new directories swap names in one step, so there is no
  moment without a directory at the target (elsewhere, or on file systems without it, two
  renames, with that short gap).

Scratch space lives under one directory, ``<target dir>/.danet_scratch/<pid>-*``. It is
removed when the block ends, and an export that was killed leaves only its own entry there,
which the next export in that directory removes (its process is gone).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

SCRATCH = ".danet_scratch"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@contextlib.contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; move it onto ``target`` when the block succeeds.

    Args:
        target: the final file (or directory) path.
        directory: the artifact is a directory (SavedModel).

    Yields:
        A path in the scratch space that does not exist yet, with the target's name.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        root = target.parent / SCRATCH
        root.mkdir(exist_ok=True)
        remove_stale_scratch(root)
        scratch = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    except OSError as err:
        raise OSError(
            err.errno,
            f"cannot write {target}: its directory {target.parent} is not writable "
            f"({err.strerror or err}); nothing was written",
        ) from None
    tmp = scratch / target.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer produced nothing at {tmp}")
        if directory and target.is_dir():
            if not _exchange(tmp, target):
                os.replace(target, scratch / (target.name + ".old"))
                os.replace(tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when no other export is using it


def remove_stale_scratch(root: Path) -> list[Path]:
    """Remove scratch entries of processes that no longer run; returns what was removed."""
    removed = []
    for entry in root.iterdir() if root.is_dir() else ():
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names of ``a`` and ``b`` atomically; False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)
