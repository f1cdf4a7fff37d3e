"""Image reading that never raises: bad files become a reason string the caller counts.

The reader itself lives in the TensorFlow-free edge distribution, :mod:`danet_edge.images`
(numpy and OpenCV only), so training, evaluation, calibration, the demo and the edge CLI
share one set of checks; this module re-exports it and adds the pipeline's `SkipCounter`.
Every image comes back as 8-bit, 3 channels, BGR by default (as ``cv2.imread``) or RGB with
``rgb=True``; EXIF orientation is ignored (COCO-style annotations refer to the stored pixel
grid). `load_image` raises `ImageReadError` (``"<path>: <reason>"``) instead of returning
``(None, reason)``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from danet_edge.images import (
    ImageReadError,
    check_bytes,
    decode_image,
    jpeg_header,
    load_image,
    read_bytes,
    read_image,
)

__all__ = [
    "ImageReadError",
    "SkipCounter",
    "check_bytes",
    "decode_image",
    "jpeg_header",
    "load_image",
    "read_bytes",
    "read_image",
]

logger = logging.getLogger(__name__)


class SkipCounter:
    """Thread-safe count of samples dropped by the pipeline, by reason.

    The tf.data pipeline calls `skip` from several threads; readers of the counts (the
    trainer's logger) see `total` and `by_reason`. Each bad file is logged once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reasons: Counter[str] = Counter()
        self._files: dict[str, str] = {}

    def skip(self, path: str, reason: str) -> None:
        with self._lock:
            self._reasons[reason] += 1
            first = path not in self._files
            self._files[path] = reason
        if first:
            logger.warning("skipping sample: %s: %s", path, reason)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._reasons.values())

    @property
    def by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._reasons)

    @property
    def bad_files(self) -> dict[str, str]:
        with self._lock:
            return dict(self._files)

    def summary(self) -> str:
        """``"skipped 3: missing file 2, empty file 1"`` (or ``"nothing skipped"``)."""
        reasons = sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        if not reasons:
            return "nothing skipped"
        total = sum(n for _, n in reasons)
        return f"skipped {total}: " + ", ".join(f"{r} {n}" for r, n in reasons)

    def __repr__(self) -> str:
        return f"SkipCounter(total={self.total}, by_reason={self.by_reason})"
