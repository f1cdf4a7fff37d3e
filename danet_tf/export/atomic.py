"""Atomic writes: an artifact appears under its final name complete or not at all.

Everything is written to a temporary sibling (same directory, so the rename never crosses
a file system) and moved into place with ``os.replace`` once the writer returned. A
SavedModel is a directory; an existing directory at the target is swapped out only after the
new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``target`` when the block succeeds.

    Args:
        target: the final file (or directory) path.
        directory: the artifact is a directory (SavedModel).

    Yields:
        A path beside ``target`` that does not exist yet, with the same suffix.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = scratch / target.name
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"the writer produced nothing at {tmp}")
        if directory and target.is_dir():
            old = scratch / (target.name + ".old")
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)
