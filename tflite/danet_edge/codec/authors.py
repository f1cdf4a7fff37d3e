"""The DANet authors' test-time protocol: region, crop, decode and scores (numpy + OpenCV).

Only for reproducing the numbers the authors published with their own weights (converted to
``.keras``); the project's protocol is :class:`HeatmapCodec` with the crop geometry of
:mod:`danet_edge.codec.geometry`. Every fact here was read from their MegEngine code
(MegEngine/Models, ``official/vision/keypoints`` at commit :data:`AUTHORS_COMMIT`, the commit
that added DANet: ``test.py``, ``config.py``, ``transforms.py``, ``dataset.py``) and is
implemented anew; see docs/evaluation.md for the list and how each step differs from ours.

Where their conventions differ from the package docstring's, theirs hold here:

- **Region.** The box ``(x1, y1, x2, y2)`` is grown by 10 % along each axis about its centre,
  then along one axis to the input's aspect ratio; no 1.25 padding.
- **Crop.** A similarity of scale ``W / region width`` (the width alone sets it) that takes
  the region's centre to ``(W / 2, H / 2)``: the region's edges land on crop pixels 0 and
  ``W``, half a pixel right of ours (-0.5 and ``W - 0.5``). The image is warped after
  normalisation, so the border is the mean colour: for a model that normalises in its graph,
  warp the raw image with the model's input mean as the border value.
- **Heatmap cells.** Cell ``u`` is crop pixel ``(u + 0.5) * stride - 0.5`` (as ours) with the
  *width* stride on both axes (equal for every input size with stride 4 on both axes).
- **Back to the image.** ``x = x1 + crop_x / W * (x2 - x1)``, ``y = y1 + crop_y / H *
  (y2 - y1)``: the inverse of the crop (the region has the input's aspect ratio).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from danet_edge.codec.heatmap import DECODE_CHUNK

AUTHORS_COMMIT = "cabce0939bbdb78356513b6384f96f7babe388d8"
# config.py test_x_ext, test_y_ext: the test region is the box grown by 10 % per axis.
EXTEND = (0.10, 0.10)
# config.py test_gaussian_kernel and test_aug_border: a 17x17 Gaussian blur (OpenCV's sigma
# for that size, 2.9) of each map padded with 10 zero cells on every side.
BLUR_KERNEL = 17
BLUR_BORDER = 10
# config.py heat_range at that commit (training targets peak at heat_range); the keypoint
# score is heatmap / heat_range + 1.
HEAT_RANGE = 1.0
# find_keypoints: steps toward the next-highest responses of the blurred map, in cells.
SHIFT_STEPS = (0.35, 0.15, 0.05)
MIN_STEP_DISTANCE = 1e-3


def extend_box(
    box_xywh: Sequence[float] | np.ndarray,
    aspect_ratio: float,
    extend: tuple[float, float] = EXTEND,
) -> np.ndarray:
    """The test region ``(x1, y1, x2, y2)`` float32 of a COCO box ``(x, y, w, h)``.

    Grown by ``extend`` (x, y fractions) about the centre, then along the shorter side to
    ``aspect_ratio`` (= input w / h).
    """
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"box_xywh must be 4 finite numbers x, y, w, h; got {box_xywh!r}")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"box width and height must be > 0, got {box_xywh!r}")
    if not aspect_ratio > 0:
        raise ValueError(f"aspect_ratio must be > 0, got {aspect_ratio!r}")
    if len(extend) != 2 or min(extend) < 0:
        raise ValueError(f"extend must be two fractions >= 0 (x, y), got {extend!r}")
    # Their boxes are float32 (x1, y1, x2, y2) from the first step on; the rest is float64
    # here (theirs mixes float32 and float64: differences stay near 1e-5 px).
    x, y, w, h = box
    x1, y1, x2, y2 = (float(v) for v in np.array([x, y, x + w, y + h], np.float32))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ext_w, ext_h = (1 + extend[0]) * (x2 - x1), (1 + extend[1]) * (y2 - y1)
    if ext_w > aspect_ratio * ext_h:
        ext_h = ext_w / aspect_ratio
    else:
        ext_w = ext_h * aspect_ratio
    return np.array(
        [cx - ext_w / 2, cy - ext_h / 2, cx + ext_w / 2, cy + ext_h / 2], dtype=np.float32
    )


def box_to_region(
    box_xywh: Sequence[float] | np.ndarray, aspect_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """``center`` (x, y) and ``scale`` (w, h) of :func:`extend_box`, as persons carry them."""
    x1, y1, x2, y2 = (float(v) for v in extend_box(box_xywh, aspect_ratio))
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], dtype=np.float64)
    scale = np.array([x2 - x1, y2 - y1], dtype=np.float64)
    return center, scale


def _region(center, scale) -> tuple[float, float, float, float]:
    cx, cy = (float(v) for v in np.asarray(center, np.float64).reshape(2))
    w, h = (float(v) for v in np.asarray(scale, np.float64).reshape(2))
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"region scale must be positive (w, h), got {scale!r}")
    return cx, cy, w, h


def _check_size(name: str, size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"{name} must be positive (h, w), got {size!r}")
    return int(size[0]), int(size[1])


def crop_matrix(
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    input_size: tuple[int, int],
) -> np.ndarray:
    """The (2, 3) float64 affine from image pixels to the authors' crop of ``input_size`` (h, w)."""
    cx, cy, w, _ = _region(center, scale)
    in_h, in_w = _check_size("input_size", input_size)
    s = in_w / w
    return np.array([[s, 0.0, in_w / 2 - s * cx], [0.0, s, in_h / 2 - s * cy]])


def crop(
    image: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    input_size: tuple[int, int],
    border_value: float | Sequence[float],
) -> np.ndarray:
    """The authors' crop (bilinear) as float32; pixels outside the image get ``border_value``.

    A uint8 image is converted first: their crop is warped from a float image, so it is
    never rounded to integers.
    """
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    border = np.broadcast_to(np.asarray(border_value, np.float64).reshape(-1), (channels,))
    if not np.all(np.isfinite(border)):
        raise ValueError(f"border_value must be finite, got {border_value!r}")
    matrix = crop_matrix(center, scale, input_size)
    in_h, in_w = _check_size("input_size", input_size)
    return cv2.warpAffine(
        image if image.dtype == np.float32 else image.astype(np.float32),
        matrix,
        (in_w, in_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in border),
    )


def cells_to_image(
    cells: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
) -> np.ndarray:
    """Heatmap cells (..., 2) (x, y) of one person -> image pixels (..., 2) float32."""
    cx, cy, w, h = _region(center, scale)
    in_h, in_w = _check_size("input_size", input_size)
    _, hm_w = _check_size("heatmap_size", heatmap_size)
    pts = np.asarray(cells, np.float64)
    if pts.shape[-1] != 2:
        raise ValueError(f"cells must have shape (..., 2), got {pts.shape}")
    # Their stride is input width / heatmap width, used for y as well.
    crop_px = (pts + 0.5) * (in_w / hm_w) - 0.5
    x = crop_px[..., 0] / in_w * w + (cx - w / 2)
    y = crop_px[..., 1] / in_h * h + (cy - h / 2)
    return np.stack([x, y], axis=-1).astype(np.float32)


def _blur_padded(maps: np.ndarray) -> np.ndarray:
    """(H, W, K) -> (K, H + 2b, W + 2b): zero-padded by ``BLUR_BORDER``, then blurred.

    One multi-channel OpenCV call per person with OpenCV's default border, as theirs.
    """
    h, w, k = maps.shape
    b = BLUR_BORDER
    padded = np.zeros((h + 2 * b, w + 2 * b, k), np.float32)
    padded[b : b + h, b : b + w] = maps
    blurred = cv2.GaussianBlur(padded, (BLUR_KERNEL, BLUR_KERNEL), 0)
    return blurred.reshape(h + 2 * b, w + 2 * b, k).transpose(2, 0, 1)


def _shift_toward_next_maxima(maps: np.ndarray) -> np.ndarray:
    """Their shift sequence on blurred padded maps (M, Hp, Wp), modified in place.

    Returns (M, 2) (x, y) in cells of the unpadded map, before clipping.
    """
    m, _, wp = maps.shape
    b = BLUR_BORDER
    rows = np.arange(m)
    flat = maps.reshape(m, -1)  # a view: zeroing through ``maps`` shows here
    top = flat.argmax(axis=1)
    x0, y0 = top % wp - b, top // wp - b
    # Their first zeroing indexes the padded map with the maximum's *unpadded* coordinates,
    # so it clears the cell BLUR_BORDER up and left of the maximum (numpy wraps negative
    # indices) and the maximum survives. The 0.35 step then finds the maximum itself at
    # distance 0 and does not move; 0.15 and 0.05 go toward the second and third highest.
    # Reproduced on purpose: this mode exists to reproduce their numbers.
    maps[rows, y0, x0] = 0
    pos = np.stack([x0, y0], axis=-1).astype(np.float64)
    for delta in SHIFT_STEPS:
        nxt = flat.argmax(axis=1)
        qx, qy = nxt % wp, nxt // wp
        maps[rows, qy, qx] = 0
        # Measured from the current (already shifted) position, as theirs.
        d = np.stack([qx - b, qy - b], axis=-1) - pos
        length = np.sqrt(d[:, 0] ** 2 + d[:, 1] ** 2)
        move = length > MIN_STEP_DISTANCE
        pos[move] += delta * d[move] / length[move, None]
    return pos


def decode(heatmaps: np.ndarray, heat_range: float = HEAT_RANGE) -> tuple[np.ndarray, np.ndarray]:
    """Their ``find_keypoints``: heatmaps (N, H, W, K) -> cells (N, K, 2) (x, y), scores (N, K).

    Each map is zero-padded, blurred, and its maximum shifted 0.35, 0.15, 0.05 cells toward
    the next-highest responses (see :func:`_shift_toward_next_maxima` for what their code
    actually does with the first step), clipped to the map. The score is ``heatmap /
    heat_range + 1`` of the unblurred map at the rounded (half to even) position.
    """
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, H, W, K), got shape {hm.shape}")
    if not (math.isfinite(heat_range) and heat_range > 0):
        raise ValueError(f"heat_range must be a finite number > 0, got {heat_range!r}")
    n, h, w, k = hm.shape
    if n == 0:
        return np.zeros((0, k, 2), np.float64), np.zeros((0, k), np.float32)
    # A few persons at a time keep the working set in cache (as HeatmapCodec.decode).
    cells = np.concatenate([
        _shift_toward_next_maxima(
            np.concatenate([_blur_padded(hm[i]) for i in range(start, min(start + DECODE_CHUNK, n))])
        )
        for start in range(0, n, DECODE_CHUNK)
    ]).reshape(n, k, 2)  # fmt: skip
    cells[..., 0] = np.clip(cells[..., 0], 0, w - 1)
    cells[..., 1] = np.clip(cells[..., 1], 0, h - 1)
    heat_prob = hm / np.float32(heat_range) + np.float32(1)
    ix, iy = np.rint(cells[..., 0]).astype(np.int64), np.rint(cells[..., 1]).astype(np.int64)
    scores = heat_prob[np.arange(n)[:, None], iy, ix, np.arange(k)[None, :]]
    return cells, scores.astype(np.float32)


def person_scores(
    keypoint_scores: np.ndarray, box_scores: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Person score = mean keypoint score x box score, (N, K), (N,) -> (N,); no threshold."""
    kp = np.asarray(keypoint_scores, np.float32)
    box = np.asarray(box_scores, np.float64).reshape(-1)
    if kp.ndim != 2 or kp.shape[0] != box.shape[0]:
        raise ValueError(
            f"keypoint_scores must be (N, K) for N = {box.shape[0]} boxes, got shape {kp.shape}"
        )
    return kp.mean(axis=1).astype(np.float64) * box
