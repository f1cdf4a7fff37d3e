"""The persons evaluation crops: the ground-truth boxes, a detection results file, or the
boxes a person detector finds on every image (written as a detection results file)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from danet_tf.atomic import atomic_write_text
from danet_tf.evaluation.coco_eval import load_coco_gt
from danet_tf.evaluation.persons import (
    DetectionCounts,
    Person,
    persons_from_detections,
    persons_from_samples,
)

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def run_detector(detector: Detector, ann_file: Path, image_dir: Path | None,
                 out: str | Path | None) -> Path:
    """COCO person detections of ``detector`` on every image of ``ann_file``, as a file
    (``<out>.dets.json`` beside ``out``, else a temporary file); unreadable images are left
    out (the pose pass counts them)."""
    from danet_edge.images import read_image
    from danet_tf.data.coco import default_image_dir

    gt = load_coco_gt(ann_file)
    root = Path(image_dir) if image_dir is not None else default_image_dir(ann_file)
    category = int(gt.getCatIds()[0])
    dets = []
    for image_id, info in sorted(gt.imgs.items()):
        image, _ = read_image(root / info["file_name"])
        if image is None:
            continue
        for box, score in zip(*detector(image), strict=True):
            dets.append({"image_id": image_id, "category_id": category,
                         "bbox": [round(float(v), 2) for v in box], "score": round(float(score), 5)})  # fmt: skip
    if out is not None:
        path = Path(str(out) + ".dets.json")
    else:
        path = Path(tempfile.mkdtemp(prefix="danet_dets_")) / "dets.json"
    return atomic_write_text(path, json.dumps(dets))


def persons_to_evaluate(dataset, metric: str, ann_file: Path, image_dir: Path | None, region,
                        aspect: float, *, dets_file: str | Path | None, detector: Detector | None,
                        det_score_threshold: float,
                        out: str | Path | None) -> tuple[list[Person], DetectionCounts | None]:
    """The persons to crop, sorted by image (each image is read once), and the detection
    file's counts (None for ground-truth boxes). ``region(box, aspect)`` is the protocol's."""
    det_counts = None
    if detector is not None:
        if dets_file is not None:
            raise ValueError("give detections (dets_file) or a detector, not both")
        dets_file = run_detector(detector, ann_file, image_dir, out)
    if dets_file is not None:
        from danet_tf.data.coco import default_image_dir

        if metric != "coco":
            raise ValueError(
                f"{metric} scores one prediction per ground-truth person: drop the detections"
            )
        gt = load_coco_gt(ann_file)
        root = image_dir if image_dir is not None else default_image_dir(ann_file)
        persons, det_counts = persons_from_detections(
            dets_file, gt, root, aspect, score_threshold=det_score_threshold,
            category_id=int(gt.getCatIds()[0]), region=region,
        )  # fmt: skip
    else:
        persons = persons_from_samples(dataset.samples, aspect, region=region)
    return sorted(persons, key=lambda p: p.image_path), det_counts
