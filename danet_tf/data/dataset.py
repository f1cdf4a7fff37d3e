"""The in-memory form every reader returns: a list of person samples plus metadata.

Coordinates are image pixels, x before y, as in the COCO json. A sample is one
annotated person; an image with three persons gives three samples (top-down).
"""

from __future__ import annotations

import dataclasses
import logging
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
    """

    image_path: str
    image_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    annotation_id: int = -1


@dataclasses.dataclass
class FilterCounts:
    """How many persons a reader saw and why it dropped some."""

    total: int = 0
    kept: int = 0
    crowd: int = 0
    no_keypoints: int = 0
    degenerate_box: int = 0
    small_box: int = 0  # annotated box area under the reader's min_box_area
    clipped_box: int = 0  # kept, but the box was cut to the image borders

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class PoseDataset:
    """Samples of one annotation file plus its keypoint metadata and filter counts.

    Attributes:
        samples: the kept persons.
        keypoint_info: a `danet_tf.codec.KeypointInfo` (names, flip pairs, skeleton,
            OKS sigmas) for the K keypoints.
        counts: what the reader filtered.
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


class AnnotationError(ValueError):
    """A malformed or inconsistent annotation file; the message names file and problem."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


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

    Updates `counts` in place. `image_size` is (width, height) when known. ``min_box_area``
    tests the box as annotated (w x h before clipping), as the DANet authors' reader meant to.
    """
    counts.total += 1
    if is_crowd:
        counts.crowd += 1
        return None
    if not np.any(keypoints[:, 2] > 0):
        counts.no_keypoints += 1
        return None
    if min_box_area > 0 and float(bbox[2]) * float(bbox[3]) < min_box_area:
        counts.small_box += 1
        return None
    width, height = image_size if image_size else (None, None)
    box, changed = clip_box(bbox, width, height)
    if not np.all(np.isfinite(box)) or box[2] < min_box_size or box[3] < min_box_size:
        counts.degenerate_box += 1
        return None
    counts.clipped_box += int(changed)
    counts.kept += 1
    return box


def log_counts(source: str | Path, counts: FilterCounts) -> None:
    logger.info(
        "%s: kept %d of %d persons (crowd %d, no keypoints %d, degenerate box %d, small box "
        "%d; %d boxes clipped to the image)",
        source,
        counts.kept,
        counts.total,
        counts.crowd,
        counts.no_keypoints,
        counts.degenerate_box,
        counts.small_box,
        counts.clipped_box,
    )
