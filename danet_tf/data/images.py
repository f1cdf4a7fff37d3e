"""Image reading that never raises: bad files become a reason string the caller counts.

Every image comes back as 8-bit, 3 channels: OpenCV's IMREAD_COLOR turns grayscale into 3
channels, drops alpha and scales 16-bit data to 8 bits. The order is OpenCV's BGR by
default (as `cv2.imread`); ``rgb=True`` decodes straight to RGB (IMREAD_COLOR_RGB), which
the pipeline uses. EXIF orientation is ignored on purpose: COCO-style annotations refer to
the stored pixel grid.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import cv2
import numpy as np

logger = logging.getLogger(__name__)

# IMREAD_COLOR_RGB exists from OpenCV 4.10; older builds decode BGR and convert.
_RGB_FLAG = getattr(cv2, "IMREAD_COLOR_RGB", None)
_BGR_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
_RGB_FLAGS = (
    _RGB_FLAG if _RGB_FLAG is not None else cv2.IMREAD_COLOR
) | cv2.IMREAD_IGNORE_ORIENTATION
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND"


def _truncation(data: bytes) -> str | None:
    """Why a JPEG/PNG byte string is cut short, or None. OpenCV decodes a truncated JPEG
    into a half-grey picture without complaint, so the end marker is checked here."""
    tail = data[-64:]
    if data[:2] == _JPEG_SOI and _JPEG_EOI not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if data[:8] == _PNG_SIG and _PNG_IEND not in tail:
        return "truncated PNG (no IEND chunk)"
    return None


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC


def jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """(height, width, components) from a JPEG's frame header, or None when ``data`` is not
    a JPEG or its header is malformed. Reads the markers only (a few microseconds), so the
    pipeline can plan a crop before decoding and decode only the region it needs."""
    if data[:2] != _JPEG_SOI:
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # TEM, RSTn: no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            return None
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            if pos + 10 > end:
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            components = data[pos + 9]
            return (height, width, components) if height and width and components else None
        pos += 2 + length
    return None


def decode_image(data: bytes, rgb: bool = False) -> tuple[np.ndarray | None, str | None]:
    """Decode image bytes to (H, W, 3) uint8 BGR (RGB if ``rgb``); (image, None) or (None, why)."""
    why = check_bytes(data)
    if why:
        return None, why
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _RGB_FLAGS if rgb else _BGR_FLAGS)
    if image is None or image.size == 0:
        return None, "not a decodable image"
    if image.dtype != np.uint8:  # IMREAD_COLOR converts depth already; belt and braces
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if rgb and _RGB_FLAG is None:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image, None


def read_bytes(path: str) -> tuple[bytes | None, str | None]:
    """A file's bytes, or (None, why) for a missing or unreadable file."""
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except FileNotFoundError:
        return None, "missing file"
    except OSError as exc:
        return None, f"unreadable file ({exc.strerror or exc})"


def check_bytes(data: bytes) -> str | None:
    """Why image bytes cannot be decoded (empty, truncated JPEG/PNG), or None."""
    return "empty file" if len(data) == 0 else _truncation(data)


def read_image(path: str, rgb: bool = False) -> tuple[np.ndarray | None, str | None]:
    """Read a file to (H, W, 3) uint8 BGR (RGB if ``rgb``); (image, None) or (None, reason)."""
    data, why = read_bytes(path)
    return decode_image(data, rgb) if data is not None else (None, why)


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

    def __repr__(self) -> str:
        return f"SkipCounter(total={self.total}, by_reason={self.by_reason})"
