"""Top-down crop geometry: person box -> centre/scale -> affine crop and back.

See the package docstring for the pixel-centre convention these functions share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np


def box_to_center_scale(
    box_xywh: Sequence[float] | np.ndarray,
    aspect_ratio: float,
    padding: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale (region w, h in image pixels) of a person box.

    The box is grown along one axis to ``aspect_ratio`` (= w / h of the network input, 0.75 for
    256x192) and then by ``padding`` along both axes (a codec's ``padding``, 1.25 by default),
    so the region is never squashed.

    Returns:
        ``center`` (2,) float32 ``(x, y)`` and ``scale`` (2,) float32 ``(w, h)``.
    """
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"box_xywh must be 4 finite numbers x, y, w, h; got {box_xywh!r}")
    if aspect_ratio <= 0:
        raise ValueError(f"aspect_ratio must be > 0, got {aspect_ratio!r}")
    x, y, w, h = box
    w, h = max(w, 1e-3), max(h, 1e-3)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    center = np.array([x + box[2] * 0.5, y + box[3] * 0.5], dtype=np.float32)
    scale = np.array([w * padding, h * padding], dtype=np.float32)
    return center, scale


def get_affine_transform(
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    rotation_deg: float,
    output_size: tuple[int, int],
    inverse: bool = False,
) -> np.ndarray:
    """The (2, 3) affine from image pixels to crop pixels (or back with ``inverse=True``).

    The region of size ``scale`` (w, h) centred on ``center`` and rotated by ``rotation_deg``
    fills the crop of ``output_size`` (h, w): its edges land on the crop's edges -0.5 and
    w - 0.5 (pixel-centre convention), its centre on ((w - 1) / 2, (h - 1) / 2).
    """
    cx, cy = (float(v) for v in np.asarray(center, dtype=np.float64).reshape(2))
    sw, sh = (float(v) for v in np.asarray(scale, dtype=np.float64).reshape(2))
    out_h, out_w = output_size
    if sw <= 0 or sh <= 0:
        raise ValueError(f"scale must be positive (w, h), got {scale!r}")
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"output_size must be positive (h, w), got {output_size!r}")
    # Plain floats: numpy on 2x2 arrays cost ~40 us per call, a tenth of a pipeline sample.
    theta = math.radians(float(rotation_deg))
    cos, sin = math.cos(theta), math.sin(theta)
    # Same sign as cv2.getRotationMatrix2D: positive angle = counter-clockwise on screen.
    a, b = out_w / sw, out_h / sh
    l00, l01, l10, l11 = a * cos, a * sin, -b * sin, b * cos
    ox = (out_w - 1) * 0.5 - (l00 * cx + l01 * cy)
    oy = (out_h - 1) * 0.5 - (l10 * cx + l11 * cy)
    matrix = np.array([[l00, l01, ox], [l10, l11, oy]])
    if inverse:
        matrix = cv2.invertAffineTransform(matrix)
    return matrix.astype(np.float32)


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to points ``(..., 2)``; returns float32 of the same shape."""
    pts = np.asarray(points, dtype=np.float64)
    mat = np.asarray(matrix, dtype=np.float64)
    if pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {pts.shape}")
    if mat.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3), got {mat.shape}")
    return (pts @ mat[:, :2].T + mat[:, 2]).astype(np.float32)


def crop_person(
    image: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    output_size: tuple[int, int],
    rotation_deg: float = 0.0,
) -> np.ndarray:
    """Warp the person region into an ``output_size`` (h, w) crop; outside pixels are 0."""
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    matrix = get_affine_transform(center, scale, rotation_deg, output_size)
    out_h, out_w = output_size
    return cv2.warpAffine(
        image,
        matrix,
        (int(out_w), int(out_h)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
