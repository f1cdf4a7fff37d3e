"""The top-down pipeline every runtime shares: person boxes -> crops -> heatmaps -> keypoints.

numpy + OpenCV + the codec only (no TensorFlow): the edge runtime in ``tflite/`` uses it with
a LiteRT interpreter, ``tools/demo.py`` with any exported artifact. The model is any callable
``crops (N, H, W, 3) float32 RGB 0-255 -> heatmaps (N, H/4, W/4, K)``; every constant (input
size, padding, decode mode, flip pairs) comes from the artifact's metadata json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from danet_tf.codec import (
    HeatmapCodec,
    affine_points,
    box_to_center_scale,
    crop_person,
    fuse_flip,
    get_affine_transform,
)

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class Poses:
    """Keypoints of the persons of one image, in image pixels.

    Attributes:
        keypoints: (N, K, 2) float32 x, y in image pixels.
        scores: (N, K) float32 heatmap maxima.
        boxes: (N, 4) float32 the person boxes x, y, w, h they were estimated in.
        timings_ms: wall time of ``preprocess``, ``model`` and ``postprocess``.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """One dict per person: box and ``{name: [x, y, score]}``."""
        return [
            {
                "box": [round(float(v), 2) for v in box],
                "keypoints": {
                    name: [round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                    for name, (x, y), s in zip(names, kpts, scores, strict=True)
                },
            }
            for box, kpts, scores in zip(self.boxes, self.keypoints, self.scores, strict=True)
        ]


class PoseEstimator:
    """Top-down pose estimation around a heatmap model described by export metadata.

    Args:
        predict: crops (N, H, W, 3) float32 RGB 0-255 -> heatmaps (N, h, w, K).
        metadata: the artifact's metadata (``danet_tf.export.metadata``).
        flip_test: also run the mirrored crop and average (twice the model time).

    Call arguments:
        image: (H, W, 3) uint8 BGR image as OpenCV reads it (``rgb=True`` for RGB).
        boxes: person boxes x, y, w, h in image pixels; None means the whole image.

    Returns:
        :class:`Poses` in image pixels.
    """

    def __init__(self, predict: Predict, metadata: Mapping[str, Any], flip_test: bool = False):
        self.predict = predict
        self.metadata = dict(metadata)
        inp, codec = metadata["input"], metadata["codec"]
        self.input_size = (int(inp["size"][0]), int(inp["size"][1]))
        self.codec = HeatmapCodec(
            self.input_size, tuple(metadata["output"]["size"]), float(codec.get("sigma", 2.0))
        )
        self.decode_mode = str(codec.get("decode", "shift"))
        self.padding = float(codec.get("padding", 1.25))
        self.flip_pairs = [tuple(p) for p in metadata["keypoints"]["flip_pairs"]]
        self.names = list(metadata["keypoints"]["names"])
        self.skeleton = [tuple(p) for p in metadata["keypoints"].get("skeleton", [])]
        self.flip_test = flip_test

    def crops(self, image_rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops (N, H, W, 3) float32 and their crop -> image affines (N, 2, 3)."""
        h, w = self.input_size
        crops, inverses = [], []
        for box in boxes:
            center, scale = box_to_center_scale(box, w / h, self.padding)
            crops.append(crop_person(image_rgb, center, scale, (h, w)))
            inverses.append(get_affine_transform(center, scale, 0.0, (h, w), inverse=True))
        return np.stack(crops).astype(np.float32), np.stack(inverses)

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """Run the model (and its mirror when ``flip_test``) on crops."""
        heatmaps = np.asarray(self.predict(crops), dtype=np.float32)
        if self.flip_test:
            flipped = np.asarray(self.predict(np.ascontiguousarray(crops[:, :, ::-1])))
            heatmaps = fuse_flip(heatmaps, flipped, self.flip_pairs)
        return heatmaps

    def __call__(
        self,
        image: np.ndarray,
        boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
        rgb: bool = False,
    ) -> Poses:
        t0 = time.perf_counter()
        if image is None or image.ndim != 3 or image.shape[2] != 3:
            shape = None if image is None else image.shape
            raise ValueError(f"image must be (H, W, 3) uint8, got shape {shape}")
        if boxes is None or len(boxes) == 0:
            boxes = [[0.0, 0.0, float(image.shape[1]), float(image.shape[0])]]
        try:
            boxes = np.asarray(boxes, dtype=np.float32)
        except ValueError:
            boxes = np.zeros((0, 0), np.float32)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(
                f"boxes must be (N, 4) x, y, w, h in image pixels; got shape {boxes.shape}"
            )
        image_rgb = image if rgb else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        crops, inverses = self.crops(image_rgb, boxes)
        t1 = time.perf_counter()
        heatmaps = self.heatmaps(crops)
        t2 = time.perf_counter()
        coords, scores = self.codec.decode(heatmaps, self.decode_mode)
        keypoints = np.stack([affine_points(c, m) for c, m in zip(coords, inverses, strict=True)])
        t3 = time.perf_counter()
        timings = {"preprocess": t1 - t0, "model": t2 - t1, "postprocess": t3 - t2}
        return Poses(keypoints, scores, boxes, {k: v * 1e3 for k, v in timings.items()})


def draw_poses(
    image: np.ndarray,
    poses: Poses,
    skeleton: Sequence[Sequence[int]],
    score_threshold: float = 0.2,
    show_scores: bool = True,
) -> np.ndarray:
    """Draw boxes, limbs and keypoints (with their scores) on a copy of a BGR image."""
    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 400))
    for box, kpts, scores in zip(poses.boxes, poses.keypoints, poses.scores, strict=True):
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(out, (x, y), (x + w, y + h), (255, 200, 0), thick)
        for i, (a, b) in enumerate(skeleton):
            if scores[a] >= score_threshold and scores[b] >= score_threshold:
                color = _palette(i)
                pa = tuple(int(round(v)) for v in kpts[a])
                pb = tuple(int(round(v)) for v in kpts[b])
                cv2.line(out, pa, pb, color, 2 * thick, cv2.LINE_AA)
        for (px, py), s in zip(kpts, scores, strict=True):
            if s < score_threshold:
                continue
            p = (int(round(px)), int(round(py)))
            cv2.circle(out, p, 2 * thick + 1, (0, 0, 255), -1, cv2.LINE_AA)
            if show_scores:
                cv2.putText(
                    out, f"{s:.2f}", (p[0] + 3, p[1] - 3), cv2.FONT_HERSHEY_SIMPLEX,
                    0.3 * thick, (255, 255, 255), 1, cv2.LINE_AA,
                )  # fmt: skip
    return out


def _palette(i: int) -> tuple[int, int, int]:
    hue = np.uint8([[[(i * 23) % 180, 220, 255]]])
    b, g, r = cv2.cvtColor(hue, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def parse_box(text: str) -> list[float]:
    """``"x,y,w,h"`` -> a box, for the ``--box`` option of the command-line tools."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
        raise argparse.ArgumentTypeError(f"box must be x,y,w,h with w, h > 0; got {text!r}")
    return box
