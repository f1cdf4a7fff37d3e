"""Top-down training samples: the paper's augmentation, the affine crop and the targets.

One person -> one crop of ``input_size`` (h, w) plus one Gaussian heatmap stack per
supervised level and per-joint weights, all through `danet_tf.codec` (geometry, flip,
encoding). Training draws, per sample (HRNet / mmpose recipe, DANet paper values):

- half-body (probability 0.3, persons with > 8 labelled joints): the crop is centred on
  the mean of the upper- or the lower-body joints (upper with probability 0.7 when both
  halves have at least 3 labelled joints) and spans their extent, grown to the input's
  aspect ratio and padded 1.5x (HRNet's ``half_body_transform``);
- scale: the crop region times U(0.7, 1.35);
- rotation: U(-45, 45) degrees with probability 0.6 (mmpose rotates 60 % of samples);
- horizontal flip (probability 0.5): mirror the crop, swap left/right joints.

Boxes are first clipped to the image and padded 1.25x; joints that leave the crop get
weight 0 (codec).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import cv2
import numpy as np

from danet_tf.codec import (
    HeatmapCodec,
    KeypointInfo,
    affine_points,
    box_to_center_scale,
    flip_keypoints,
    get_affine_transform,
)
from danet_tf.data.dataset import PoseSample, clip_box

_LOWER_BODY_WORDS = ("hip", "knee", "ankle", "pelvis", "foot", "heel", "toe")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Random top-down augmentation; `AugmentConfig.none()` for validation crops."""

    rotation: float = 45.0
    rotation_prob: float = 0.6
    scale_range: tuple[float, float] = (0.7, 1.35)
    flip: bool = True
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_upper_prob: float = 0.7
    half_body_min_joints: int = 8
    half_body_padding: float = 1.5

    def __post_init__(self) -> None:
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must be 0 < low <= high, got {self.scale_range!r}")
        for name in ("rotation_prob", "flip_prob", "half_body_prob", "half_body_upper_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if self.rotation < 0:
            raise ValueError(f"rotation must be >= 0 degrees, got {self.rotation!r}")

    @classmethod
    def none(cls) -> AugmentConfig:
        return cls(
            rotation=0.0, rotation_prob=0.0, scale_range=(1.0, 1.0), flip=False, half_body_prob=0.0
        )


def source_region(
    matrix: np.ndarray, image_hw: tuple[int, int], output_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """(y0, x0, height, width) of the image region an ``output_size`` crop samples, or None
    when the crop misses the image.

    The crop rectangle mapped back into the image, plus a 2-pixel margin so that every
    bilinear tap of the full-image warp lies inside the region.
    """
    out_h, out_w = int(output_size[0]), int(output_size[1])
    (m00, m01, m02), (m10, m11, m12) = np.asarray(matrix, np.float64).tolist()
    det = m00 * m11 - m01 * m10
    if det == 0:
        return None
    xs, ys = [], []  # plain floats: a 2x3 numpy inverse costs 4x more than the arithmetic
    for u in (-0.5, out_w - 0.5):
        for v in (-0.5, out_h - 0.5):
            du, dv = u - m02, v - m12
            xs.append((m11 * du - m01 * dv) / det)
            ys.append((m00 * dv - m10 * du) / det)
    x0 = max(math.floor(min(xs)) - 2, 0)
    y0 = max(math.floor(min(ys)) - 2, 0)
    x1 = min(math.ceil(max(xs)) + 3, int(image_hw[1]))
    y1 = min(math.ceil(max(ys)) + 3, int(image_hw[0]))
    return (y0, x0, y1 - y0, x1 - x0) if x1 > x0 and y1 > y0 else None


def shift_matrix(matrix: np.ndarray, y0: int, x0: int) -> np.ndarray:
    """The affine for a sub-image whose top-left corner is (x0, y0) of the original."""
    shifted = np.array(matrix, np.float64, copy=True)
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)
    return shifted


def warp_region(region: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Bilinear warp with a zero border, as `danet_tf.codec.crop_person`. 3-channel uint8 data
    is warped as RGBA: OpenCV's warpAffine has SIMD code for 1 and 4 channels but not 3
    (0.25 against 0.31 ms for a 256x192 crop on the 2-core machine, conversions included)."""
    out_h, out_w = int(output_size[0]), int(output_size[1])
    rgba = region.ndim == 3 and region.shape[2] == 3 and region.dtype == np.uint8
    src = cv2.cvtColor(region, cv2.COLOR_RGB2RGBA) if rgba else region
    out = cv2.warpAffine(src, np.asarray(matrix, np.float64), (out_w, out_h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
    return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB) if rgba else out


def warp_crop(image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """`danet_tf.codec.crop_person` for an already computed matrix, warping only the region
    of ``image`` that the crop samples (`source_region`): the result is the full-image warp
    up to OpenCV's 1/32-pixel coordinate rounding (at most one grey level, `tests/data`)."""
    region = source_region(matrix, image.shape[:2], output_size)
    if region is None:  # the crop misses the image: all border
        shape = (int(output_size[0]), int(output_size[1])) + image.shape[2:]
        return np.zeros(shape, image.dtype)
    y0, x0, h, w = region
    return warp_region(image[y0 : y0 + h, x0 : x0 + w], shift_matrix(matrix, y0, x0), output_size)


def lower_body_mask(names: Sequence[str]) -> np.ndarray:
    """(K,) bool: joints that belong to the lower body, by name (hips, knees, ankles...)."""
    return np.array([any(w in n.lower() for w in _LOWER_BODY_WORDS) for n in names], bool)


@dataclasses.dataclass
class CropResult:
    image: np.ndarray  # (h, w, 3) uint8 RGB
    keypoints: np.ndarray  # (K, 3) float32 in crop pixels (x, y zero where v == 0)
    heatmaps: dict[str, np.ndarray]  # level -> (hh, hw, K) float32; empty without sigmas
    weights: np.ndarray | None  # (K,) float32; None without sigmas


class TopDownTransform:
    """Sample + decoded RGB image -> crop, keypoints in the crop and (optionally) targets.

    Args:
        keypoint_info: the layout (flip pairs, names for the half-body split).
        codec: the run's `HeatmapCodec`: crop and heatmap size, the box padding and, with
            ``encode``, each level's target sigma (``codec.level_sigmas``).
        augment: AugmentConfig; None or `AugmentConfig.none()` for validation.
        encode: also render one target heatmap per level of the codec (`HeatmapCodec.encode`);
            the tf.data pipeline encodes whole batches in the graph instead
            (`danet_tf.data.targets`).
    """

    def __init__(
        self,
        keypoint_info: KeypointInfo,
        codec: HeatmapCodec,
        augment: AugmentConfig | None = None,
        encode: bool = False,
    ) -> None:
        if not isinstance(codec, HeatmapCodec):
            raise TypeError(f"codec must be a HeatmapCodec, got {type(codec).__name__}")
        self.info = keypoint_info
        self.codec = codec
        self.input_size = codec.input_size
        self.heatmap_size = codec.heatmap_size
        self.codecs = {lvl: codec.for_level(lvl) for lvl in codec.level_sigmas} if encode else {}
        self.augment = augment or AugmentConfig.none()
        self.padding = codec.padding
        self.lower = lower_body_mask(keypoint_info.names)

    def half_body(self, kpts: np.ndarray, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray] | None:
        """(center, scale) of a half-body crop of a person's keypoints (K, 3), or None.

        As HRNet's ``half_body_transform``: the upper half (with probability
        ``half_body_upper_prob``) if it has > 2 labelled joints, else the lower half if it
        has > 2, else the upper; none if fewer than 2 joints remain or they span no area.
        The crop is centred on the chosen joints' mean and covers their extent, grown to the
        input's aspect ratio and padded by ``half_body_padding``.
        """
        labelled = kpts[:, 2] > 0
        upper, lower = labelled & ~self.lower, labelled & self.lower
        if rng.random() < self.augment.half_body_upper_prob and upper.sum() > 2:
            chosen = upper
        else:
            chosen = lower if lower.sum() > 2 else upper
        if chosen.sum() < 2:
            return None
        pts = kpts[chosen, :2].astype(np.float64)
        lo, hi = pts.min(0), pts.max(0)
        if hi[0] - lo[0] < 1 or hi[1] - lo[1] < 1:
            return None
        aspect = self.input_size[1] / self.input_size[0]
        extent = (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        _, scale = box_to_center_scale(extent, aspect, self.augment.half_body_padding)
        return pts.mean(0).astype(np.float32), scale

    def params(
        self, sample: PoseSample, image_shape: tuple[int, ...], rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray, float, bool] | None:
        """(center, scale, rotation_deg, flip) of the crop, or None if the box is empty."""
        box, _ = clip_box(sample.bbox, image_shape[1], image_shape[0])
        if box[2] < 1 or box[3] < 1:
            return None
        aspect = self.input_size[1] / self.input_size[0]
        aug = self.augment
        center, scale = box_to_center_scale(box, aspect, self.padding)
        if rng is not None and aug.half_body_prob > 0:
            labelled = int((sample.keypoints[:, 2] > 0).sum())
            if labelled > aug.half_body_min_joints and rng.random() < aug.half_body_prob:
                half = self.half_body(sample.keypoints, rng)
                if half is not None:
                    center, scale = half
        rotation, flip = 0.0, False
        if rng is not None:
            scale = scale * rng.uniform(*aug.scale_range)
            if aug.rotation > 0 and rng.random() < aug.rotation_prob:
                rotation = float(rng.uniform(-aug.rotation, aug.rotation))
            flip = bool(aug.flip and rng.random() < aug.flip_prob)
        return center, scale, rotation, flip

    def plan(
        self, sample: PoseSample, image_hw: tuple[int, ...], rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(matrix (2, 3), keypoints (K, 3) in crop pixels) of one crop, before any pixel is
        decoded; None if the box is empty. A flip is part of the matrix (mirroring the
        warp's output grid), so one warp makes the final crop."""
        params = self.params(sample, image_hw, rng)
        if params is None:
            return None
        center, scale, rotation, flip = params
        matrix = get_affine_transform(center, scale, rotation, self.input_size)
        kpts = sample.keypoints.copy()
        kpts[:, :2] = affine_points(kpts[:, :2], matrix)
        if flip:
            width = self.input_size[1]
            matrix = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack(
                [matrix, [0.0, 0.0, 1.0]]
            )
            kpts = flip_keypoints(kpts, self.info.flip_pairs, width)
        kpts[kpts[:, 2] <= 0, :2] = 0.0
        return matrix, kpts

    def crop(
        self, image: np.ndarray, sample: PoseSample, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(crop (h, w, 3), keypoints (K, 3) in crop pixels); ``rng=None``: no augmentation."""
        planned = self.plan(sample, image.shape, rng)
        if planned is None:
            return None
        matrix, kpts = planned
        return warp_crop(image, matrix, self.input_size), kpts

    def __call__(
        self, image: np.ndarray, sample: PoseSample, rng: np.random.Generator | None = None
    ) -> CropResult | None:
        """Crop one person from an RGB image, with targets; None if the box is empty."""
        out = self.crop(image, sample, rng)
        if out is None:
            return None
        crop, kpts = out
        heatmaps, weights = {}, None
        for level, codec in self.codecs.items():
            heatmaps[level], weights = codec.encode(kpts)
        return CropResult(crop, kpts, heatmaps, weights)
