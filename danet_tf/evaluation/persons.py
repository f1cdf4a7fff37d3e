"""The persons a top-down evaluation crops: from ground-truth boxes or detector boxes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from danet_tf.codec import box_to_center_scale
from danet_tf.evaluation.nms import check_unit_interval

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
    image_size: tuple[int, int] | None = None  # (width, height) the annotations record

    @property
    def area(self) -> float:
        return float(self.scale[0] * self.scale[1])


@dataclass
class DetectionCounts:
    """What happened to the entries of a detection file (each entry counted once)."""

    total: int = 0
    kept: int = 0
    other_category: int = 0
    below_threshold: int = 0
    unknown_image: int = 0
    nonfinite_box: int = 0  # a NaN/inf coordinate
    degenerate_box: int = 0  # under 1 px wide or high
    outside_image: int = 0  # no overlap with the image (its size from the annotations)
    unknown_image_ids: list[int] = field(default_factory=list)

    @property
    def skipped(self) -> dict[str, int]:
        """The non-zero skip counts by reason."""
        keys = ("below_threshold", "other_category", "unknown_image", "nonfinite_box",
                "degenerate_box", "outside_image")  # fmt: skip
        return {k: getattr(self, k) for k in keys if getattr(self, k)}

    def summary(self) -> str:
        text = (
            f"detections: {self.kept} of {self.total} kept ({self.below_threshold} below the "
            f"score threshold, {self.other_category} other category, {self.degenerate_box} "
            f"degenerate boxes, {self.nonfinite_box} boxes with NaN/inf, {self.outside_image} "
            f"boxes outside the image, {self.unknown_image} for image ids not in the "
            "annotations"
        )
        if self.unknown_image_ids:
            text += f", e.g. {self.unknown_image_ids[:5]}"
        return text + ")"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_detection(path: Path, i: int, det: object) -> None:
    """Raise unless detection ``i`` has COCO results types and a score in [0, 1]."""
    missing = [
        k for k in ("image_id", "bbox", "score") if not isinstance(det, dict) or k not in det
    ]
    if missing:
        raise ValueError(f"{path}: detection {i} lacks {missing}: {str(det)[:120]}")
    where = f"{path}: detection {i} (image_id {det['image_id']!r})"
    if not isinstance(det["image_id"], int) or isinstance(det["image_id"], bool):
        raise ValueError(f"{where}: 'image_id' must be an integer, got {det['image_id']!r}")
    box = det["bbox"]
    if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
        raise ValueError(f"{where}: 'bbox' must be a list of 4 numbers x, y, w, h, got {box!r}")
    score = det["score"]
    if not _is_number(score) or not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise ValueError(
            f"{where}: 'score' must be a finite number in [0, 1], got {score!r}; a detector "
            "that writes such scores is broken, and ranking by them would corrupt the AP"
        )
    if "category_id" in det and (
        not isinstance(det["category_id"], int) or isinstance(det["category_id"], bool)
    ):
        raise ValueError(f"{where}: 'category_id' must be an integer, got {det['category_id']!r}")


def _region_fn(region: RegionFn | None, padding: float | None) -> RegionFn:
    if region is not None:
        return region
    if padding is None:
        raise ValueError("give the model codec's crop padding (codec.padding) or a region function")
    return lambda box, aspect: box_to_center_scale(box, aspect, padding)


def persons_from_samples(
    samples: Sequence,
    aspect_ratio: float,
    padding: float | None = None,
    region: RegionFn | None = None,
) -> list[Person]:
    """Persons for ground-truth boxes (``PoseSample``s of the data readers), box score 1.

    ``region`` maps a box to its crop region (default: ``box_to_center_scale`` with
    ``padding``, the model codec's, which is then required; the authors' protocol passes
    ``danet_tf.codec.authors.box_to_region``).
    """
    to_region = _region_fn(region, padding)
    out = []
    for i, s in enumerate(samples):
        center, scale = to_region(np.asarray(s.bbox, np.float64), aspect_ratio)
        out.append(Person(s.image_path, int(s.image_id), center, scale, 1.0, i, s.image_size))
    return out


def persons_from_detections(
    dets_file: str | Path,
    coco_gt: COCO,
    image_dir: str | Path,
    aspect_ratio: float,
    *,
    score_threshold: float = 0.0,
    category_id: int | None = None,
    padding: float | None = None,
    region: RegionFn | None = None,
) -> tuple[list[Person], DetectionCounts]:
    """Persons for the boxes of a COCO detection results file (``image_id``, ``bbox``, ``score``).

    Every entry is checked first: a missing or wrongly typed field, or a score that is not a
    finite number in [0, 1], is an error naming the file and the entry. Entries below
    ``score_threshold`` (in [0, 1]), of another category, for images the annotation file
    does not know, with a NaN/inf or under-1-px box, or with a box that does not overlap
    its image (width and height from the annotations) are skipped and counted in the
    returned `DetectionCounts`. A file with no entries, or none left, is an error.
    ``region`` as for :func:`persons_from_samples`.
    """
    to_region = _region_fn(region, padding)
    from danet_edge.demo import read_detection_list

    path = Path(dets_file)
    dets = read_detection_list(path)
    if not dets:
        raise ValueError(f"{path}: the detection file holds no detections")
    check_unit_interval("score_threshold", score_threshold)
    for i, det in enumerate(dets):
        _check_detection(path, i, det)
    counts = DetectionCounts(total=len(dets))
    unknown: set[int] = set()
    persons = []
    for det in dets:
        if category_id is not None and det.get("category_id", category_id) != category_id:
            counts.other_category += 1
            continue
        if det["score"] < score_threshold:
            counts.below_threshold += 1
            continue
        image_id = det["image_id"]
        if image_id not in coco_gt.imgs:
            counts.unknown_image += 1
            unknown.add(image_id)
            continue
        box = np.asarray(det["bbox"], np.float64)
        if not np.all(np.isfinite(box)):
            counts.nonfinite_box += 1
            continue
        if box[2] < 1 or box[3] < 1:
            counts.degenerate_box += 1
            continue
        img = coco_gt.imgs[image_id]
        width, height = img.get("width"), img.get("height")
        x, y, w, h = box
        if width and height and (x >= width or y >= height or x + w <= 0 or y + h <= 0):
            counts.outside_image += 1
            continue
        center, scale = to_region(box, aspect_ratio)
        image_path = str(Path(image_dir) / img["file_name"])
        size = (img.get("width"), img.get("height"))
        persons.append(Person(image_path, int(image_id), center, scale, float(det["score"]),
                              image_size=(int(size[0]), int(size[1])) if all(size) else None))
    counts.kept = len(persons)
    counts.unknown_image_ids = sorted(unknown, key=str)
    if not persons:
        raise ValueError(f"{path}: no usable detection ({counts.summary()})")
    return persons, counts
