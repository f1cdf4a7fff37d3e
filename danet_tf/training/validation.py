"""Validation during training: COCO keypoint AP or PCK, and the best epoch.

When the validation annotations carry OKS sigmas (COCO keypoints: the COCO-17 layout or a
``sigmas`` field) the metric is COCO keypoint AP from pycocotools on ground-truth boxes,
through the same `danet_tf.evaluation.evaluate_topdown` as ``tools/eval.py``, with the run's
codec (its crop padding, flip test and decoding), OKS-NMS, on the first ``train.val_samples`` persons of the file
(by image id; a subset file ``val_subset.json`` is written when the file holds more).
Otherwise it is PCK@0.05 of the crop's longer side on the first ``val_samples`` validation
crops. Higher is better for both; ``best.keras`` is saved whenever the metric improves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from danet_tf.atomic import atomic_write_text

AP_KEY = "val_AP"


def is_coco_keypoints(keypoint_info: Any) -> bool:
    return keypoint_info is not None and getattr(keypoint_info, "sigmas", None) is not None


def val_subset(ann_file: str, max_persons: int, out: Path) -> str:
    """``ann_file`` itself, or the first images (by id) holding ``max_persons`` labelled
    persons, with all their annotations, written to ``out``."""
    data = json.loads(Path(ann_file).read_text())
    by_image: dict[int, list[dict]] = {}
    for ann in data.get("annotations", []):
        by_image.setdefault(ann["image_id"], []).append(ann)

    def labelled(a: dict) -> bool:
        return not a.get("iscrowd", 0) and any(v > 0 for v in a.get("keypoints", [])[2::3])

    total = sum(labelled(a) for anns in by_image.values() for a in anns)
    if total <= max_persons:
        return ann_file
    images, count = [], 0
    for img in sorted(data["images"], key=lambda i: i["id"]):
        if count >= max_persons:
            break
        images.append(img)
        count += sum(labelled(a) for a in by_image.get(img["id"], []))
    ids = {img["id"] for img in images}
    subset = dict(data, images=images,
                  annotations=[a for a in data["annotations"] if a["image_id"] in ids])
    atomic_write_text(out, json.dumps(subset))
    return str(out)


def coco_ap(inference_model, ann_file: str, image_dir: str | None, num_keypoints: int,
            codec) -> tuple[dict[str, float], dict[str, int]]:
    """COCO keypoint AP of a single-output (unscaled) model evaluated with the run's ``codec``
    (crop padding, decoding, flip test as the exported model will have them): metrics and
    skipped images by reason."""
    from danet_tf.evaluation import evaluate_topdown
    from danet_tf.evaluation.inference import keras_predict_fn

    report = evaluate_topdown(
        keras_predict_fn(inference_model), ann_file, image_dir, num_keypoints=num_keypoints,
        codec=codec, metric="coco", progress=False)
    skipped: dict[str, int] = {}
    for why in report.skipped_images.values():
        skipped[why] = skipped.get(why, 0) + 1
    m = report.metrics
    return {AP_KEY: m["AP"], "val_AP50": m["AP50"], "val_AR": m["AR"]}, skipped


class BestTracker:
    """The best validation value so far (``best.json``), surviving resumes."""

    def __init__(self, workdir: Path, metric: str | None) -> None:
        self.path = workdir / "best.json"
        self.metric = metric
        self.best: dict[str, Any] | None = None
        if self.path.is_file():
            try:
                best = json.loads(self.path.read_text())
            except ValueError:
                best = None
            if best and best.get("metric") == metric:
                self.best = best

    def improves(self, value: float | None) -> bool:
        if self.metric is None or value is None or not np.isfinite(value):
            return False
        return self.best is None or value > self.best["value"]

    def record(self, value: float, epoch: int, step: int) -> None:
        """Call after ``best.keras`` is written, so best.json never names a missing model."""
        self.best = {"metric": self.metric, "value": float(value), "epoch": epoch, "step": step}
        atomic_write_text(self.path, json.dumps(self.best, indent=1))
