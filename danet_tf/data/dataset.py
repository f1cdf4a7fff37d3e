"""The in-memory form every reader returns: a list of person samples plus metadata.

Coordinates are image pixels, x before y, as in the COCO json. A sample is one
annotated person; an image with three persons gives three samples (top-down).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PoseSample:
    """One person to crop: where the image is, the person box and its keypoints.

    Attributes:
        image_path: absolute path of the image file.
        image_id: the image id of the annotation file.
        bbox: (4,) float32 box x, y, w, h in image pixels (already clipped to the image
            when the image size is known).
        keypoints: (K, 3) float32 x, y, v; v=0 unlabelled, 1 labelled but occluded,
            2 labelled and visible.
        annotation_id: id of the annotation (or the row index for MPII).
        image_size: (width, height) the annotation file records for the image, or None. An
            image whose decoded size differs (replaced by another photo, resized) would put
            every keypoint in the wrong place: readers skip and count it.
    """

    image_path: str
    image_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    annotation_id: int = -1
    image_size: tuple[int, int] | None = None


def size_mismatch(expected: tuple[int, int] | None, hw: tuple[int, ...]) -> str | None:
    """Why a decoded image of height, width ``hw`` is not the ``expected`` (width, height)
    one the annotations were made on, or None."""
    if expected is None:
        return None
    w, h = (int(v) for v in expected)
    if (int(hw[1]), int(hw[0])) != (w, h):
        return f"image is {int(hw[1])}x{int(hw[0])}, the annotation file says {w}x{h}"
    return None


# Why a reader drops a person: FilterCounts field -> what it means (for messages).
SKIP_REASONS = {
    "crowd": "crowd region",
    "no_keypoints": "no labelled keypoint",
    "nonfinite_keypoints": "a labelled keypoint at NaN/inf",
    "nonfinite_box": "box with a NaN/inf value",
    "small_box": "annotated box area under min_box_area",
    "outside_box": "box entirely outside the image",
    "degenerate_box": "box under 1 px wide or high (after clipping to the image)",
}


@dataclasses.dataclass
class FilterCounts:
    """How many persons a reader saw and why it dropped some.

    ``total == kept + sum(skipped.values())``; ``clipped_box`` counts kept persons whose box
    was cut to the image borders. `summary` is the one-line form the commands print.
    """

    total: int = 0
    kept: int = 0
    crowd: int = 0
    no_keypoints: int = 0
    nonfinite_keypoints: int = 0
    nonfinite_box: int = 0
    small_box: int = 0  # annotated box area under the reader's min_box_area
    outside_box: int = 0  # no overlap with the image (size known from the json)
    degenerate_box: int = 0
    clipped_box: int = 0  # kept, but the box was cut to the image borders

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @property
    def skipped(self) -> dict[str, int]:
        """The non-zero skip counts by reason (keys of `SKIP_REASONS`), in that order."""
        return {k: getattr(self, k) for k in SKIP_REASONS if getattr(self, k)}

    def summary(self) -> str:
        """``"kept 12 of 14 persons; skipped 2 (no_keypoints 2); 1 box clipped to the image"``."""
        skipped = self.skipped
        text = f"kept {self.kept} of {self.total} persons"
        if skipped:
            reasons = ", ".join(f"{k} {n}" for k, n in skipped.items())
            text += f"; skipped {sum(skipped.values())} ({reasons})"
        if self.clipped_box:
            plural = "es" if self.clipped_box > 1 else ""
            text += f"; {self.clipped_box} box{plural} clipped to the image"
        return text


@dataclasses.dataclass
class PoseDataset:
    """Samples of one annotation file plus its keypoint metadata and filter counts.

    Attributes:
        samples: the kept persons.
        keypoint_info: a `danet_tf.codec.KeypointInfo` (names, flip pairs, skeleton,
            OKS sigmas) for the K keypoints.
        counts: what the reader filtered, by reason (`FilterCounts`: ``counts.skipped`` is
            a dict reason -> count, ``counts.summary()`` one printable line).
        source: the annotation file the samples came from.
    """

    samples: list[PoseSample]
    keypoint_info: Any
    counts: FilterCounts
    source: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> PoseSample:
        return self.samples[index]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_info.names)

    @property
    def image_paths(self) -> list[str]:
        """Distinct image files, in first-seen order."""
        return list(dict.fromkeys(s.image_path for s in self.samples))

    def summary(self) -> str:
        """``"<source>: kept 12 of 14 persons; skipped 2 (no_keypoints 2)"``."""
        return f"{self.source}: {self.counts.summary()}"


class AnnotationError(ValueError):
    """A malformed or inconsistent annotation file; the message names file and problem."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


# --- field checks shared by the readers -------------------------------------------------


def shown(value: object, limit: int = 60) -> str:
    """A json value as the file spells it (``null``, ``"12"``), shortened for messages."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_number(value: object) -> bool:
    """An int or float (NaN included) but not a bool: what a json number parses to."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_numbers(
    path: Path, where: str, field: str, value: object, length: int, what: str
) -> None:
    """Raise unless ``value`` is a list of ``length`` json numbers (NaN allowed: the
    readers count non-finite boxes and keypoints as skips)."""
    if not isinstance(value, list):
        raise AnnotationError(
            path, f"{where}: {field!r} must be a list of {what}, got {shown(value)}"
        )
    if len(value) != length:
        raise AnnotationError(
            path, f"{where}: {field!r} has {len(value)} values, expected {length} ({what})"
        )
    for j, v in enumerate(value):
        if not is_number(v):
            raise AnnotationError(
                path, f"{where}: {field!r}[{j}] must be a number, got {shown(v)} ({what})"
            )


def check_positive(path: Path, where: str, field: str, value: object) -> None:
    """Raise unless ``value`` is None (unknown) or a positive finite number."""
    if value is None:
        return
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise AnnotationError(
            path, f"{where}: {field!r} must be a positive number, got {shown(value)}"
        )


def clip_box(
    bbox: np.ndarray, width: float | None, height: float | None
) -> tuple[np.ndarray, bool]:
    """Cut an xywh box to the image; returns (box, whether it changed).

    Boxes are treated as continuous spans [x, x + w], so a box covering the whole image
    has w == width. Unknown image sizes (None or <= 0) leave the box as is.
    """
    x, y, w, h = (float(v) for v in bbox)
    if not width or not height or width <= 0 or height <= 0:
        return np.array([x, y, w, h], np.float32), False
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + max(w, 0.0), float(width)), min(y + max(h, 0.0), float(height))
    clipped = (x1, y1, x2 - x1, y2 - y1)
    changed = any(abs(a - b) > 1e-3 for a, b in zip(clipped, (x, y, w, h), strict=True))
    return np.array(clipped, np.float32), changed


def filter_person(
    bbox: np.ndarray,
    keypoints: np.ndarray,
    counts: FilterCounts,
    *,
    is_crowd: bool = False,
    image_size: tuple[float, float] | None = None,
    min_box_size: float = 1.0,
    min_box_area: float = 0.0,
) -> np.ndarray | None:
    """Apply the reader filters to one person; returns the clipped box or None if dropped.

    Updates `counts` in place, one reason per dropped person, tested in the order of
    `SKIP_REASONS`. `image_size` is (width, height) when known; a box that does not overlap
    the image is ``outside_box``, one that does is clipped to it. ``min_box_area`` tests the
    box as annotated (w x h before clipping), as the DANet authors' reader meant to.
    """
    counts.total += 1
    labelled = keypoints[:, 2] > 0
    box = np.asarray(bbox, np.float32)
    changed = False
    reason = None
    if is_crowd:
        reason = "crowd"
    elif not np.any(labelled):
        reason = "no_keypoints"
    elif not np.all(np.isfinite(keypoints[labelled, :2])):
        reason = "nonfinite_keypoints"
    elif not np.all(np.isfinite(box)):
        reason = "nonfinite_box"
    elif min_box_area > 0 and float(box[2]) * float(box[3]) < min_box_area:
        reason = "small_box"
    else:
        width, height = image_size if image_size else (None, None)
        x, y, w, h = (float(v) for v in box)
        known = bool(width and height)
        if known and w > 0 and h > 0 and (x >= width or y >= height or x + w <= 0 or y + h <= 0):
            reason = "outside_box"
        else:
            box, changed = clip_box(box, width, height)
            if box[2] < min_box_size or box[3] < min_box_size:
                reason = "degenerate_box"
    if reason is not None:
        setattr(counts, reason, getattr(counts, reason) + 1)
        return None
    counts.clipped_box += int(changed)
    counts.kept += 1
    return box


def log_counts(source: str | Path, counts: FilterCounts) -> None:
    logger.info("%s: %s", source, counts.summary())
