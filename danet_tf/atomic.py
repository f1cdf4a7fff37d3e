"""Atomic writes, the project's one implementation: a reader, a resumed run or a user sees
a file (or a SavedModel directory) complete or not at all.

- Small files the training loop, the config, evaluation and labelling write (logs,
  summaries, pictures, json): :func:`atomic_write_bytes` / :func:`atomic_write_text` /
  :func:`write_json` write a temporary in the same folder, fsync it, rename it over the
  target (``os.replace`` is atomic on POSIX file systems) and fsync the folder.
- Artifacts (exports, converted models): :func:`atomic_path` yields a path in a scratch
  directory beside the target (same file system, so the final rename never copies) and moves
  it into place once the writer returned; a SavedModel directory that replaces an existing
  one is swapped in with Linux's ``renameat2`` and ``RENAME_EXCHANGE``, so there is no moment
  without a directory at the target (elsewhere, two renames with a short gap). Scratch space
  is ``<target dir>/.danet_scratch/<pid>-*``, removed when the block ends; an export that was
  killed leaves only its own entry there, which the next export in that directory removes.

Fault injection (tests only): ``DANET_TF_FAULT=kill-in-rewrite:<file name>`` makes the
process SIGKILL itself halfway through writing the temporary copy of that file, the worst
moment for a non-atomic rewrite.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

FAULT_ENV = "DANET_TF_FAULT"
SCRATCH = ".danet_scratch"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _fault(path: Path) -> bool:
    spec = os.environ.get(FAULT_ENV, "")
    kind, _, name = spec.partition(":")
    return kind == "kill-in-rewrite" and name == path.name


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same-directory temporary, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
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


def write_json(path: str | Path, data: object) -> Path:
    """Write strictly valid json (``allow_nan=False``: no bare NaN/Infinity) atomically, so a
    failure leaves no file (or the previous one) and never a half-written or invalid one."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a json file")
    text = json.dumps(data, allow_nan=False)  # raises before anything is written
    return atomic_write_text(path, text)


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
        if tmp.is_file():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
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
    """Write an artifact's ``data`` to ``target`` through :func:`atomic_path`."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)
