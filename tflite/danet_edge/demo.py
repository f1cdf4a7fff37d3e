"""Draw estimated skeletons on an image or on every frame of a video, with any artifact.

A ``.tflite`` or ``.onnx`` runs through this package's runtime (no TensorFlow); only a
``.keras`` model or a SavedModel directory imports TensorFlow (``danet_tf``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from danet_edge.cli import IMAGE_SUFFIXES, check_output_path
from danet_edge.draw import draw_poses
from danet_edge.images import load_image

EDGE_SUFFIXES = (".tflite", ".onnx")


def needs_tensorflow(model: str | Path) -> bool:
    """Whether running ``model`` needs TensorFlow (a ``.keras`` file or a SavedModel)."""
    return Path(model).suffix.lower() not in EDGE_SUFFIXES


def load_topdown(model: str | Path, num_threads: int = 1, **kwargs: Any):
    """The top-down predictor of any artifact; TensorFlow is imported only when needed."""
    if not needs_tensorflow(model):
        from danet_edge.topdown import TopDownPredictor

        return TopDownPredictor.from_file(model, num_threads, **kwargs)
    from danet_tf.export.runners import load_topdown as load_any

    return load_any(model, num_threads, **kwargs)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class DemoError(RuntimeError):
    """The demo could not do what was asked (a video ended early, nothing to draw...)."""


def read_detection_list(path: str | Path) -> list:
    """The json list of a COCO-results detection file; a missing file, bad json or another
    top-level type raises naming the file."""
    path = Path(path)
    try:
        dets = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"detection file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"detection file {str(path)!r} is not valid json: {err}") from None
    if not isinstance(dets, list):
        raise ValueError(f"{path}: detections must be a json list, got {type(dets).__name__}")
    return dets


def detections_for(dets_path: str | Path, min_score: float = 0.3) -> dict[Any, np.ndarray]:
    """Person boxes per key of a COCO-results json (``bbox``, ``score``, ``image_id`` or
    ``frame``); entries without either key are listed under None (they apply everywhere)."""
    path = Path(dets_path)
    dets = read_detection_list(path)
    found: dict[Any, list] = {}
    for i, d in enumerate(dets):
        if not isinstance(d, dict) or "bbox" not in d:
            raise ValueError(f"{path}: detection {i} has no 'bbox': {str(d)[:100]}")
        score = d.get("score", 1.0)
        if not isinstance(score, (int, float)) or not np.isfinite(score):
            raise ValueError(f"{path}: detection {i} has score {score!r}, not a finite number")
        if score < min_score or d.get("category_id", 1) != 1:
            continue
        found.setdefault(d.get("image_id", d.get("frame")), []).append(d["bbox"])
    return {k: np.asarray(v, np.float32).reshape(-1, 4) for k, v in found.items()}


def _boxes_for(dets: dict | None, key: Any, boxes):
    if dets is None:
        return boxes
    if key in dets:
        return dets[key]
    return dets.get(None)


def run_demo(
    source: str | Path,
    model: str | Path,
    output: str | Path,
    boxes: Sequence[Sequence[float]] | None = None,
    dets: str | Path | None = None,
    num_threads: int = 1,
    threshold: float = 0.2,
    show_scores: bool = True,
    detector: Any = None,
) -> dict[str, Any]:
    """Estimate and draw poses on ``source`` (image or video); returns counts and timings.

    Outputs are checked before the model loads (directory exists, extension known). With
    ``dets``, an image or frame without detections is skipped with a message, never treated
    as one whole-image person. A video that ends before its frame count is an error.
    """
    source = Path(source)
    is_video = source.suffix.lower() in VIDEO_SUFFIXES
    output = check_output_path(output, VIDEO_SUFFIXES if is_video else IMAGE_SUFFIXES)
    if not source.is_file():
        raise FileNotFoundError(f"input {source} does not exist")
    detections = None if dets is None else detections_for(dets)
    predictor = load_topdown(model, num_threads, detector=detector)
    if is_video:
        return _video(predictor, source, output, boxes, detections, threshold, show_scores,
                      model)
    image = load_image(source)
    key = int(source.stem) if source.stem.isdigit() else source.name
    frame_boxes = _boxes_for(detections, key, boxes)
    if detections is not None and frame_boxes is None:
        raise DemoError(f"{dets} has no detections for {source.name} (image_id {key!r})")
    poses = predictor(image, frame_boxes)
    drawn = draw_poses(image, poses, predictor.names, predictor.skeleton, threshold, show_scores)
    if not cv2.imwrite(str(output), drawn):
        raise OSError(f"cannot write {output}")
    _note_low_confidence(float(np.max(poses.scores)) if len(poses) else None, model)
    return {"frames": 1, "persons": len(poses),
            "timings_ms": {k: round(v, 2) for k, v in poses.timings_ms.items()}}


def _note_low_confidence(best: float | None, model: str | Path) -> None:
    """Say once on stderr when no joint reached the confidence of a model that sees people."""
    from danet_edge.presets import confidence_note

    if best is None:
        return
    meta = None
    try:
        from danet_edge.metadata import read_metadata

        meta = read_metadata(model)
    except (OSError, ValueError):
        pass
    if note := confidence_note(best, model, meta):
        print(note, file=sys.stderr)


def _video(predictor, source: Path, output: Path, boxes, dets, threshold, show_scores,
           predictor_path) -> dict[str, Any]:
    reader = cv2.VideoCapture(str(source))
    if not reader.isOpened():
        raise ValueError(f"cannot open video {source} (not a video OpenCV can read)")
    fps = reader.get(cv2.CAP_PROP_FPS) or 25.0
    expected = int(reader.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    writer, frames, persons, skipped, model_ms, best = None, 0, 0, 0, 0.0, -1.0
    try:
        while True:
            ok, frame = reader.read()
            if not ok:
                break
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise OSError(f"cannot write video {output}")
            frame_boxes = _boxes_for(dets, frames, boxes)
            if dets is not None and frame_boxes is None:
                skipped += 1
                writer.write(frame)
            else:
                poses = predictor(frame, frame_boxes)
                writer.write(draw_poses(frame, poses, predictor.names, predictor.skeleton,
                                        threshold, show_scores))  # fmt: skip
                persons += len(poses)
                model_ms += poses.timings_ms["model"]
                if len(poses):
                    best = max(best, float(np.max(poses.scores)))
            frames += 1
    finally:
        reader.release()
        if writer is not None:
            writer.release()
    if frames == 0:
        raise DemoError(f"video {source} has no readable frames")
    if skipped:
        print(f"demo: {skipped} of {frames} frames had no detections in the --dets file; "
              "written undrawn", file=sys.stderr)  # fmt: skip
    summary = {"frames": frames, "frames_expected": expected, "persons": persons,
               "frames_without_detections": skipped,
               "model_ms_per_frame": round(model_ms / max(1, frames - skipped), 2)}  # fmt: skip
    _note_low_confidence(best if best >= 0 else None, predictor_path)
    if expected and frames < expected:
        raise DemoError(
            f"video {source} ended after {frames} of {expected} frames (damaged?); the "
            f"{frames} frames read are in {output}"
        )
    return summary
