"""The one top-down predictor: person boxes -> crops -> batched model call -> keypoints.

Every path that turns images into poses uses :class:`TopDownPredictor`: the edge command
``danet-estimate``, ``danet_tf``'s evaluation, benchmark and demo. The model is any callable
``crops (N, H, W, 3) float32 RGB 0-255 -> heatmaps (N, H/4, W/4, K)``; every constant (input
size, crop padding, decoder, flip pairs) comes from the codec and keypoint layout it is given,
which an exported file carries in its metadata (:meth:`TopDownPredictor.from_file`).

Two protocols (:mod:`danet_edge.protocol`, chosen once per predictor): ``danet_tf`` (this
codec's crop geometry and decoders) and ``authors`` (the DANet authors' test code,
:mod:`danet_edge.codec.authors`, to reproduce their numbers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from danet_edge.codec import HeatmapCodec, KeypointInfo, fuse_flip
from danet_edge.metadata import MetadataError, read_metadata
from danet_edge.protocol import Ours, make_protocol

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass
class Poses:
    """Keypoints of the persons of one image, in image pixels.

    Attributes:
        keypoints: (N, K, 2) float32 x, y in image pixels.
        scores: (N, K) float32 keypoint confidences (heatmap maxima).
        boxes: (N, 4) float32 the person boxes x, y, w, h they were estimated in.
        box_scores: (N,) float32 detector scores (1 for boxes given by the caller).
        timings_ms: wall time of ``detect``, ``preprocess``, ``model`` and ``postprocess``.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    box_scores: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.box_scores is None:
            self.box_scores = np.ones(len(self.boxes), np.float32)

    def __len__(self) -> int:
        return len(self.boxes)

    def to_json(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """One dict per person: ``box`` (x, y, w, h), ``box_score``, ``score`` (box score x
        mean keypoint confidence) and ``keypoints`` ``{name: [x, y, confidence]}``."""
        return [
            {
                "box": [round(float(v), 2) for v in box],
                "box_score": round(float(box_score), 4),
                "score": round(float(box_score * np.mean(scores)), 4),
                "keypoints": {
                    name: [round(float(x), 2), round(float(y), 2), round(float(s), 4)]
                    for name, (x, y), s in zip(names, kpts, scores, strict=True)
                },
            }
            for box, box_score, kpts, scores in zip(
                self.boxes, self.box_scores, self.keypoints, self.scores, strict=True
            )
        ]


class TopDownPredictor:
    """Top-down pose estimation around a heatmap model.

    Args:
        predict: crops (N, H, W, 3) float32 RGB 0-255 -> heatmaps (N, h, w, K).
        codec: input/heatmap size, crop padding, decoder and ``flip_test``.
        keypoints: names, flip pairs and skeleton of the K heatmaps.
        protocol: ``danet_tf`` or ``authors`` (their crop, decode and keypoint scores), or a
            protocol object (:mod:`danet_edge.protocol`), used with this predictor's codec.
        crop_border: ``authors`` only: the value (RGB) outside the image in a crop.
        heat_range: ``authors`` only: the heatmap scale that enters their keypoint score.
        detector: callable ``image BGR -> (boxes (N, 4) x, y, w, h, scores (N,))`` used when
            no boxes are given (``danet_edge.detector.PersonDetector``); None: an image
            without boxes is one person.
        metadata: the model file's metadata, kept for :meth:`describe`.
    """

    def __init__(
        self,
        predict: Predict,
        codec: HeatmapCodec,
        keypoints: KeypointInfo,
        *,
        protocol: str | Ours = "danet_tf",
        crop_border: float | Sequence[float] | None = None,
        heat_range: float | None = None,
        detector: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        if isinstance(protocol, Ours):
            self.protocol = protocol.with_codec(codec)
        else:
            self.protocol = make_protocol(protocol, codec, crop_border=crop_border,
                                          heat_range=heat_range)  # fmt: skip
        self.predict = predict
        self.codec = codec
        self.keypoints = keypoints
        self.detector = detector
        self.metadata = dict(metadata or {})

    # -- construction from an exported file -------------------------------------------------

    @classmethod
    def from_metadata(
        cls, predict: Predict, metadata: Mapping[str, Any], **kwargs: Any
    ) -> TopDownPredictor:
        """A predictor whose codec and keypoints come from an artifact's metadata; keyword
        arguments ``flip_test`` and ``decode_mode`` override the codec's."""
        overrides = {k: kwargs.pop(k, None) for k in ("flip_test", "decode_mode")}
        changes = {k: v for k, v in overrides.items() if v is not None}
        codec = codec_from_metadata(metadata)
        if changes:
            codec = codec.replace(**changes)
        return cls(predict, codec, keypoints_from_metadata(metadata), metadata=metadata, **kwargs)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        num_threads: int = 1,
        xnnpack: bool | None = None,
        **kwargs: Any,
    ) -> TopDownPredictor:
        """A predictor for an exported ``.tflite`` or ``.onnx`` file (its embedded metadata)."""
        from danet_edge.runners import load_edge_model

        metadata = read_metadata(path)
        warn_if_unverified(metadata, path)
        predict = load_edge_model(path, num_threads, xnnpack, metadata)
        return cls.from_metadata(predict, metadata, **kwargs)

    # -- the three steps, usable on crops of many images ------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.keypoints.names)

    @property
    def skeleton(self) -> list[tuple[int, int]]:
        return list(self.keypoints.skeleton)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.codec.input_size

    def region(self, box: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop region ``center`` (x, y), ``scale`` (w, h) of a box x, y, w, h."""
        return self.protocol.region(box)

    def crop(self, image_rgb: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """The float32 (H, W, 3) network input for one region of an RGB image."""
        return self.protocol.crop(image_rgb, center, scale)

    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """Run the model on crops, with their mirrors in the same call when ``flip_test``."""
        crops = np.asarray(crops, np.float32)
        batch = np.concatenate([crops, crops[:, :, ::-1]]) if self.codec.flip_test else crops
        maps = np.asarray(self.predict(np.ascontiguousarray(batch)), np.float32)
        expected = (len(batch), *self.codec.heatmap_size, len(self.keypoints.names))
        if maps.shape != expected:
            raise ValueError(
                f"model output {maps.shape} does not match (batch, h, w, K) = {expected} for "
                f"input {self.codec.input_size} and {len(self.keypoints.names)} keypoints"
            )
        if self.codec.flip_test:
            # Both protocols average the mirrored maps without a one-cell shift.
            maps = fuse_flip(maps[: len(crops)], maps[len(crops) :], self.keypoints.flip_pairs)
        return maps

    def decode(
        self, heatmaps: np.ndarray, centers: Sequence[np.ndarray], scales: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, h, w, K) of N regions -> keypoints (N, K, 2) image pixels, scores (N, K).

        Scores are the protocol's: raw heatmap maxima (``danet_tf``) or the authors'
        ``heatmap / heat_range + 1``.
        """
        k = len(self.keypoints.names)
        if len(heatmaps) == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        points, scores = self.protocol.decode(heatmaps, centers, scales)
        return np.stack(points).astype(np.float32), scores.astype(np.float32)

    # -- whole images -----------------------------------------------------------------------

    def __call__(
        self,
        image: np.ndarray,
        boxes: Sequence[Sequence[float]] | np.ndarray | None = None,
        rgb: bool = False,
        box_scores: Sequence[float] | np.ndarray | None = None,
    ) -> Poses:
        """Poses of the persons in ``boxes`` (x, y, w, h image pixels) of one image.

        ``image`` is (H, W, 3) uint8, BGR as OpenCV reads it (``rgb=True`` for RGB). Without
        ``boxes`` the detector finds the persons (none found: empty :class:`Poses`); with no
        detector the whole image is one person.
        """
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            raise ValueError(f"image must be (H, W, 3) uint8, got shape {shape}")
        t0 = time.perf_counter()
        if boxes is None and self.detector is not None:
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image
            boxes, box_scores = self.detector(bgr)
        elif boxes is None or len(boxes) == 0:
            boxes = [[0.0, 0.0, float(image.shape[1]), float(image.shape[0])]]
        boxes = check_boxes(boxes, image.shape[:2])
        box_scores = (
            np.ones(len(boxes), np.float32)
            if box_scores is None
            else np.asarray(box_scores, np.float32).reshape(len(boxes))
        )
        t1 = time.perf_counter()
        image_rgb = image if rgb else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        regions = [self.region(box) for box in boxes]
        crops = [self.crop(image_rgb, c, s) for c, s in regions]
        t2 = time.perf_counter()
        k, (hh, hw) = len(self.keypoints.names), self.codec.heatmap_size
        maps = self.heatmaps(np.stack(crops)) if crops else np.zeros((0, hh, hw, k), np.float32)
        t3 = time.perf_counter()
        keypoints, scores = self.decode(maps, [c for c, _ in regions], [s for _, s in regions])
        t4 = time.perf_counter()
        timings = {
            "detect": t1 - t0,
            "preprocess": t2 - t1,
            "model": t3 - t2,
            "postprocess": t4 - t3,
        }
        return Poses(keypoints, scores, boxes, box_scores, {k: v * 1e3 for k, v in timings.items()})

    def describe(self) -> dict[str, Any]:
        """What this predictor runs: input size, keypoints, codec, quantization, source."""
        meta = self.metadata
        return {
            "input_size": list(self.codec.input_size),
            "keypoints": len(self.keypoints.names),
            "codec": self.codec.to_dict(),
            "protocol": self.protocol.name,
            "quantization": (meta.get("quantization") or {}).get("mode"),
            "source": (meta.get("source") or {}).get("model"),
            "verified": (meta.get("verification") or {}).get("passed", True),
        }




def check_boxes(
    boxes: Sequence[Sequence[float]] | np.ndarray, image_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """(N, 4) float32 finite boxes x, y, w, h with w, h > 0; raises naming the bad box.

    With ``image_hw`` (the image's height, width) a box must also be at least one pixel wide
    and tall and overlap the image; a box partly outside is clipped to the image.
    """
    try:
        arr = np.asarray(boxes, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"boxes must be (N, 4) numbers x, y, w, h; got {boxes!r:.200}") from None
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) x, y, w, h in image pixels; got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1) | (arr[:, 2] <= 0) | (arr[:, 3] <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"box {i} {arr[i].tolist()} must be finite with w, h > 0")
    if image_hw is None:
        return arr
    h, w = (float(v) for v in image_hw[:2])
    for i, (x, y, bw, bh) in enumerate(arr.astype(np.float64)):
        if bw < 1 or bh < 1:
            raise ValueError(f"box {i} {arr[i].tolist()} is under one pixel wide or tall")
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise ValueError(
                f"box {i} {arr[i].tolist()} has no pixel in the {int(w)}x{int(h)} image"
            )
    x0 = np.clip(arr[:, 0], 0, w)
    y0 = np.clip(arr[:, 1], 0, h)
    x1 = np.clip(arr[:, 0].astype(np.float64) + arr[:, 2], 0, w)
    y1 = np.clip(arr[:, 1].astype(np.float64) + arr[:, 3], 0, h)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.float32)


def codec_from_metadata(metadata: Mapping[str, Any]) -> HeatmapCodec:
    """The codec an artifact was exported with (its metadata's ``codec`` section)."""
    codec = dict(metadata["codec"])
    try:
        return HeatmapCodec.from_dict(codec, "metadata codec")
    except ValueError as err:
        raise MetadataError(str(err)) from None


def keypoints_from_metadata(metadata: Mapping[str, Any]) -> KeypointInfo:
    """The keypoint layout (names, flip pairs, skeleton, OKS sigmas) of an artifact."""
    kp = metadata["keypoints"]
    try:
        return KeypointInfo(
            tuple(kp["names"]),
            tuple(tuple(p) for p in kp.get("flip_pairs", ())),
            tuple(tuple(p) for p in kp.get("skeleton", ())),
            None if kp.get("sigmas") is None else tuple(kp["sigmas"]),
        )
    except (TypeError, ValueError) as err:
        raise MetadataError(f"metadata keypoints: {err}") from None


def warn_if_unverified(metadata: Mapping[str, Any], path: str | Path) -> None:
    """Print the warning an artifact written with ``--allow-unverified`` must carry."""
    verification = metadata.get("verification") or {}
    if verification.get("passed", True) is False:
        import sys

        print(
            f"WARNING: {path} FAILED verification against its Keras model when it was exported "
            f"({verification.get('failure', 'see its metadata')}); its outputs may be wrong.",
            file=sys.stderr,
        )
