"""Draw estimated skeletons on an image or on every frame of a video, with any artifact."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from danet_tf.export.metadata import metadata_path, read_metadata
from danet_tf.export.runners import artifact_format, load_predict
from danet_tf.export.topdown import PoseEstimator, draw_poses

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def load_estimator(
    path: str | Path, num_threads: int = 1, flip_test: bool = False
) -> PoseEstimator:
    """A :class:`PoseEstimator` for a .tflite, .onnx, SavedModel or .keras model.

    Exported artifacts carry their metadata json; a ``.keras`` model without one gets the
    metadata export would write (COCO-17 keypoints when K == 17).
    """
    if artifact_format(path) == "keras" and not metadata_path(path).is_file():
        from danet_tf.export.api import build_metadata
        from danet_tf.export.runners import keras_predict, load_keras

        model = load_keras(path)
        meta = build_metadata(model, "keras", "none", path, None, None)
        return PoseEstimator(keras_predict(model, batch=1), meta, flip_test)
    meta = read_metadata(path)
    return PoseEstimator(load_predict(path, num_threads, meta), meta, flip_test)


def detections_for(dets_path: str | Path, key: int | None, min_score: float = 0.3) -> np.ndarray:
    """Person boxes (N, 4) of a COCO-results json (``bbox``, ``score``, ``image_id``/``frame``).

    ``key`` is the image id (or the video frame index); entries without ``image_id``/``frame``
    apply everywhere.
    """
    dets = json.loads(Path(dets_path).read_text(encoding="utf-8"))
    if not isinstance(dets, list):
        raise ValueError(f"{dets_path}: expected a list of detections, got {type(dets).__name__}")
    boxes = [
        d["bbox"]
        for d in dets
        if d.get("score", 1.0) >= min_score
        and d.get("category_id", 1) == 1
        and d.get("image_id", d.get("frame", key)) == key
    ]
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def run_demo(
    source: str | Path,
    model: str | Path,
    output: str | Path,
    boxes: Sequence[Sequence[float]] | None = None,
    dets: str | Path | None = None,
    num_threads: int = 1,
    threshold: float = 0.2,
) -> dict[str, Any]:
    """Estimate and draw poses on ``source`` (image or video); returns counts and timings."""
    estimator = load_estimator(model, num_threads)
    source, output = Path(source), Path(output)
    if source.suffix.lower() in VIDEO_SUFFIXES:
        return _video(estimator, source, output, boxes, dets, threshold)
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {source}")
    frame_boxes = boxes
    if dets is not None:
        image_id = int(source.stem) if source.stem.isdigit() else None
        frame_boxes = detections_for(dets, image_id)
    poses = estimator(image, frame_boxes)
    if not cv2.imwrite(str(output), draw_poses(image, poses, estimator.skeleton, threshold)):
        raise OSError(f"cannot write {output}")
    return {"frames": 1, "persons": len(poses.boxes), "timings_ms": poses.timings_ms}


def _video(estimator, source: Path, output: Path, boxes, dets, threshold) -> dict[str, Any]:
    reader = cv2.VideoCapture(str(source))
    if not reader.isOpened():
        raise FileNotFoundError(f"cannot open video {source}")
    fps = reader.get(cv2.CAP_PROP_FPS) or 25.0
    writer, frames, persons, model_ms = None, 0, 0, 0.0
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        if writer is None:
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        frame_boxes = detections_for(dets, frames) if dets is not None else boxes
        poses = estimator(frame, frame_boxes)
        writer.write(draw_poses(frame, poses, estimator.skeleton, threshold))
        frames, persons = frames + 1, persons + len(poses.boxes)
        model_ms += poses.timings_ms["model"]
    reader.release()
    if writer is None:
        raise ValueError(f"video {source} has no frames")
    writer.release()
    return {"frames": frames, "persons": persons, "model_ms_per_frame": model_ms / frames}
