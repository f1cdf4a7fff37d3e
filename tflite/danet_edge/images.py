"""The one checked image reader: numpy and OpenCV only (no TensorFlow), for every path that
reads images (training, evaluation, calibration, the demo, ``danet-estimate``).

Two styles over the same checks:

- :func:`load_image` returns the image or raises :class:`ImageReadError` naming the file and
  why (a command that was given one image should stop);
- :func:`read_image` returns ``(image, None)`` or ``(None, reason)`` (a command that reads
  many images skips the bad ones and counts the reasons).

The checks: a missing or unreadable file, an empty file, a JPEG without its end-of-image
marker or a PNG without its IEND chunk (OpenCV decodes a truncated JPEG into a half-grey
picture without complaint), a JPEG whose scan libjpeg reports as corrupt ("Corrupt JPEG
data", "Premature end of JPEG file": OpenCV returns a partly grey picture and only that
warning on stderr says so), and bytes OpenCV cannot decode (not an image, corrupt, or more
pixels than OpenCV's limit). Every image comes back as 8-bit, 3 channels: OpenCV's
IMREAD_COLOR turns grayscale into 3 channels, drops alpha and scales 16-bit data to 8 bits.
The order is OpenCV's BGR by default (as ``cv2.imread``); ``rgb=True`` decodes straight to
RGB. EXIF orientation is ignored by default, because COCO-style annotations refer to the
stored pixel grid; ``apply_orientation=True`` applies it as ``cv2.imread`` does.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from danet_edge.streams import filtered_fd

__all__ = [
    "ImageReadError",
    "check_bytes",
    "decode_image",
    "jpeg_header",
    "load_image",
    "read_bytes",
    "read_image",
]

# IMREAD_COLOR_RGB exists from OpenCV 4.10; older builds decode BGR and convert.
_RGB_FLAG = getattr(cv2, "IMREAD_COLOR_RGB", None)
_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND"
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
# libjpeg's warnings for a damaged scan: OpenCV still returns a picture (grey where the data
# was bad) and only libjpeg's message on stderr says so.
_JPEG_CORRUPT = ("Corrupt JPEG data", "Premature end of JPEG file")


def _imdecode_jpeg(buf: np.ndarray, flags: int) -> tuple[np.ndarray | None, str]:
    """``cv2.imdecode`` with libjpeg's stderr messages captured (the corrupt-data warnings
    the caller acts on are not passed on)."""
    with filtered_fd(2, lambda line: line.startswith(_JPEG_CORRUPT)) as seen:
        image = cv2.imdecode(buf, flags)
    return image, seen.text


class ImageReadError(ValueError):
    """An image file that cannot be used; the message is ``"<path>: <reason>"``.

    Attributes:
        path: the file.
        reason: why, one of the reasons :func:`read_image` returns ("missing file",
            "empty file", "truncated JPEG (no end-of-image marker)", "not a decodable
            image", ...).
    """

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _flags(rgb: bool, apply_orientation: bool) -> int:
    flags = _RGB_FLAG if rgb and _RGB_FLAG is not None else cv2.IMREAD_COLOR
    return flags if apply_orientation else flags | cv2.IMREAD_IGNORE_ORIENTATION


def _truncation(data: bytes) -> str | None:
    """Why a JPEG/PNG byte string is cut short, or None."""
    tail = data[-64:]
    if data[:2] == _JPEG_SOI and _JPEG_EOI not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if data[:8] == _PNG_SIG and _PNG_IEND not in tail:
        return "truncated PNG (no IEND chunk)"
    return None


def jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """(height, width, components) from a JPEG's frame header, or None when ``data`` is not
    a JPEG or its header is malformed. Reads the markers only (a few microseconds), so a
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


def check_bytes(data: bytes) -> str | None:
    """Why image bytes cannot be decoded (empty, truncated JPEG/PNG), or None."""
    return "empty file" if len(data) == 0 else _truncation(data)


def decode_image(
    data: bytes, rgb: bool = False, *, apply_orientation: bool = False
) -> tuple[np.ndarray | None, str | None]:
    """Decode image bytes to (H, W, 3) uint8 BGR (RGB if ``rgb``); (image, None) or (None, why)."""
    why = check_bytes(data)
    if why:
        return None, why
    try:
        buf, flags = np.frombuffer(data, np.uint8), _flags(rgb, apply_orientation)
        if data[:2] == _JPEG_SOI:
            image, messages = _imdecode_jpeg(buf, flags)
            warning = next((ln for ln in messages.splitlines() if ln.startswith(_JPEG_CORRUPT)),
                           None)
            if warning is not None:
                return None, f"corrupt JPEG data (libjpeg: {warning.strip()})"
        else:
            image = cv2.imdecode(buf, flags)
    except cv2.error as exc:  # e.g. a header announcing more pixels than OpenCV allows
        return None, f"not a decodable image ({str(exc).strip().splitlines()[-1][:120]})"
    if image is None or image.size == 0:
        return None, "not a decodable image"
    if image.ndim == 2:  # belt and braces: IMREAD_COLOR already gives 3 channels
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.dtype != np.uint8:  # IMREAD_COLOR converts depth already; belt and braces
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if rgb and _RGB_FLAG is None:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image, None


def read_bytes(path: str | Path) -> tuple[bytes | None, str | None]:
    """A file's bytes, or (None, why) for a missing or unreadable file."""
    try:
        with open(path, "rb") as f:
            return f.read(), None
    except FileNotFoundError:
        return None, "missing file"
    except IsADirectoryError:
        return None, "a directory, not an image file"
    except OSError as exc:
        return None, f"unreadable file ({exc.strerror or exc})"


def read_image(
    path: str | Path, rgb: bool = False, *, apply_orientation: bool = False
) -> tuple[np.ndarray | None, str | None]:
    """Read a file to (H, W, 3) uint8 BGR (RGB if ``rgb``); (image, None) or (None, reason).

    The skip-style reader: it never raises for a bad file, so the caller can count
    ``reason`` and go on.
    """
    data, why = read_bytes(path)
    if data is None:
        return None, why
    return decode_image(data, rgb, apply_orientation=apply_orientation)


def load_image(
    path: str | Path, rgb: bool = False, *, apply_orientation: bool = False
) -> np.ndarray:
    """Read a file to (H, W, 3) uint8 BGR (RGB if ``rgb``), or raise.

    Raises:
        ImageReadError: the file is missing, unreadable, empty, truncated or not an image;
            the message is ``"<path>: <reason>"``.
    """
    image, why = read_image(path, rgb, apply_orientation=apply_orientation)
    if image is None:
        raise ImageReadError(path, why or "not a decodable image")
    return image
