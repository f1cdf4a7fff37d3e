"""The persons a top-down evaluation crops: from ground-truth boxes or detector boxes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from danet_tf.codec import box_to_center_scale

# (box x, y, w, h; input aspect ratio w / h) -> crop region centre (x, y) and size (w, h)
RegionFn = Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Person:
    """One crop to run: the image, the crop region and the box score.

    ``gt_index`` is the index of the ground-truth sample the box came from (-1 for a
    detection); ``area`` (crop region w x h, image pixels) is what OKS-NMS uses.
    """

    image_path: str
    image_id: int
    center: np.ndarray
    scale: np.ndarray
    box_score: float = 1.0
    gt_index: int = -1

    @property
    def area(self) -> float:
        return float(self.scale[0] * self.scale[1])


@dataclass
class DetectionCounts:
    """What happened to the entries of a detection file."""

    total: int = 0
    kept: int = 0
    other_category: int = 0
    below_threshold: int = 0
    degenerate_box: int = 0
    unknown_image: int = 0
    unknown_image_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"detections: {self.kept} of {self.total} kept ({self.below_threshold} below the "
            f"score threshold, {self.other_category} other category, {self.degenerate_box} "
            f"degenerate boxes, {self.unknown_image} for image ids not in the annotations"
        )
        if self.unknown_image_ids:
            text += f", e.g. {self.unknown_image_ids[:5]}"
        return text + ")"


def _region_fn(region: RegionFn | None, padding: float) -> RegionFn:
    if region is not None:
        return region
    return lambda box, aspect: box_to_center_scale(box, aspect, padding)


def persons_from_samples(
    samples: Sequence,
    aspect_ratio: float,
    padding: float = 1.25,
    region: RegionFn | None = None,
) -> list[Person]:
    """Persons for ground-truth boxes (``PoseSample``s of the data readers), box score 1.

    ``region`` maps a box to its crop region (default: ``box_to_center_scale`` with
    ``padding``; the authors' protocol passes ``danet_tf.codec.authors.box_to_region``).
    """
    to_region = _region_fn(region, padding)
    out = []
    for i, s in enumerate(samples):
        center, scale = to_region(np.asarray(s.bbox, np.float64), aspect_ratio)
        out.append(Person(s.image_path, int(s.image_id), center, scale, 1.0, i))
    return out


def persons_from_detections(
    dets_file: str | Path,
    coco_gt: COCO,
    image_dir: str | Path,
    aspect_ratio: float,
    *,
    score_threshold: float = 0.0,
    category_id: int | None = None,
    padding: float = 1.25,
    region: RegionFn | None = None,
) -> tuple[list[Person], DetectionCounts]:
    """Persons for the boxes of a COCO detection results file (``image_id``, ``bbox``, ``score``).

    Entries for images the annotation file does not know are skipped and counted; a file with
    no entries, or none left after the score threshold, is an error. ``region`` as for
    :func:`persons_from_samples`.
    """
    to_region = _region_fn(region, padding)
    path = Path(dets_file)
    try:
        dets = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"detection file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"detection file {str(path)!r} is not valid json: {exc}") from None
    if not isinstance(dets, list):
        raise ValueError(f"{path}: detections must be a json list, got {type(dets).__name__}")
    if not dets:
        raise ValueError(f"{path}: the detection file holds no detections")
    counts = DetectionCounts(total=len(dets))
    unknown: set[int] = set()
    persons = []
    for i, det in enumerate(dets):
        missing = [
            k for k in ("image_id", "bbox", "score") if not isinstance(det, dict) or k not in det
        ]
        if missing:
            raise ValueError(f"{path}: detection {i} lacks {missing}: {str(det)[:120]}")
        if category_id is not None and det.get("category_id", category_id) != category_id:
            counts.other_category += 1
            continue
        if float(det["score"]) < score_threshold:
            counts.below_threshold += 1
            continue
        image_id = det["image_id"]
        if image_id not in coco_gt.imgs:
            counts.unknown_image += 1
            unknown.add(image_id)
            continue
        box = np.asarray(det["bbox"], np.float64)
        if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] < 1 or box[3] < 1:
            counts.degenerate_box += 1
            continue
        center, scale = to_region(box, aspect_ratio)
        image_path = str(Path(image_dir) / coco_gt.imgs[image_id]["file_name"])
        persons.append(Person(image_path, int(image_id), center, scale, float(det["score"])))
    counts.kept = len(persons)
    counts.unknown_image_ids = sorted(unknown, key=str)
    if not persons:
        raise ValueError(f"{path}: no usable detection ({counts.summary()})")
    return persons, counts
