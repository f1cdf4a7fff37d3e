"""Filtering what native libraries write straight to a file descriptor (libjpeg's warnings,
TensorFlow's C++ log, the TFLite converter's notes), which Python's ``sys.stderr`` never sees.

``with filtered_fd(2, drop) as seen:`` sends fd 2 into a temporary file for the block, then
writes back every line for which ``drop`` is false; ``seen.text`` holds all that was captured
(so a caller can act on a warning, as the image reader does on libjpeg's "Corrupt JPEG
data"). A lock serialises captures: two threads must not swap fd 2 under each other.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_LOCK = threading.RLock()


@dataclass
class Captured:
    text: str = ""


@contextlib.contextmanager
def filtered_fd(fd: int = 2, drop: Callable[[str], bool] | re.Pattern | None = None
                ) -> Iterator[Captured]:
    """Capture ``fd`` for the block; write back the lines ``drop`` does not match."""
    if isinstance(drop, re.Pattern):
        drop = drop.search
    seen = Captured()
    stream = sys.stderr if fd == 2 else sys.stdout if fd == 1 else None
    with _LOCK:
        try:
            if stream is not None:
                stream.flush()
            saved = os.dup(fd)
        except (OSError, ValueError, AttributeError):  # no usable fd: nothing to filter
            yield seen
            return
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), fd)
            try:
                yield seen
            finally:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    if stream is not None:
                        stream.flush()
                os.dup2(saved, fd)
                os.close(saved)
                capture.seek(0)
                seen.text = capture.read().decode("utf-8", "replace")
                kept = [ln for ln in seen.text.splitlines(keepends=True)
                        if drop is None or not drop(ln)]  # fmt: skip
                if kept:
                    os.write(fd, "".join(kept).encode())


__all__ = ["Captured", "filtered_fd"]
