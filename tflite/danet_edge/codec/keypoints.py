"""Keypoint metadata: names, flip pairs, skeletons and OKS sigmas (all indices 0-based)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)  # fmt: skip
# The COCO category's skeleton, converted from 1-based to 0-based indices.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
# Per-keypoint OKS constants of the COCO keypoint evaluation (pycocotools' kpt_oks_sigmas).
COCO_SIGMAS: np.ndarray = np.array(
    [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89],
    dtype=np.float64,
) / 10.0  # fmt: skip
COCO_SIGMAS.setflags(write=False)

# MPII's 16 joints in the order of the HRNet/mmpose json (head_top 9, upper_neck 8).
MPII_KEYPOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
# The 14 joints of LSP / LSPET.
LSP_KEYPOINTS: tuple[str, ...] = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)  # fmt: skip

_SIDE_SWAP = {"left": "right", "right": "left", "l": "r", "r": "l"}


def _mirror_name(name: str) -> str:
    return "_".join(_SIDE_SWAP.get(token, token) for token in name.split("_"))


def flip_pairs_from_names(names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Pairs (i, j), i < j, of joints whose names differ only by a left/right (or l/r) token."""
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError(f"keypoint names are not unique: {list(names)!r}")
    pairs = []
    for i, name in enumerate(names):
        j = index.get(_mirror_name(name))
        if j is not None and j > i:
            pairs.append((i, j))
    return tuple(pairs)


@dataclass(frozen=True)
class KeypointInfo:
    """What the codec, data and evaluation need to know about a keypoint layout.

    Args:
        names: joint names, in heatmap channel order.
        flip_pairs: 0-based (left, right) index pairs swapped by a horizontal flip.
        skeleton: 0-based index pairs of the limbs to draw.
        sigmas: per-joint OKS constants, or None where the layout has none (PCK data).
    """

    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        k = len(self.names)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "flip_pairs", tuple((int(a), int(b)) for a, b in self.flip_pairs))
        object.__setattr__(self, "skeleton", tuple((int(a), int(b)) for a, b in self.skeleton))
        for kind, pairs in (("flip_pairs", self.flip_pairs), ("skeleton", self.skeleton)):
            bad = [p for p in pairs if not (0 <= p[0] < k and 0 <= p[1] < k)]
            if bad:
                raise ValueError(f"{kind} {bad!r} out of range for {k} keypoints")
        flat = [j for pair in self.flip_pairs for j in pair]
        repeated = sorted({j for j in flat if flat.count(j) > 1})
        if repeated:
            raise ValueError(
                f"flip_pairs {list(self.flip_pairs)} name joint(s) {repeated} more than once: "
                "a flip must swap distinct joints"
            )
        if self.sigmas is not None:
            sigmas = tuple(float(s) for s in self.sigmas)
            if len(sigmas) != k:
                raise ValueError(f"got {len(sigmas)} sigmas for {k} keypoints")
            object.__setattr__(self, "sigmas", sigmas)

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    @classmethod
    def coco(cls) -> KeypointInfo:
        return cls(COCO_KEYPOINTS, COCO_FLIP_PAIRS, COCO_SKELETON, tuple(COCO_SIGMAS))

    @classmethod
    def from_coco_category(cls, category: Mapping[str, Any]) -> KeypointInfo:
        """Build from a COCO ``categories`` entry (``keypoints`` names, 1-based ``skeleton``).

        COCO metadata carries no flip pairs; they are derived from left/right names. Sigmas
        come from a ``sigmas`` field when present, else the COCO constants for the COCO-17
        layout, else None.
        """
        if "keypoints" not in category or not category["keypoints"]:
            raise ValueError(
                f"category {category.get('name', category.get('id'))!r} has no 'keypoints' names"
            )
        names = tuple(str(n) for n in category["keypoints"])
        skeleton = tuple((int(a) - 1, int(b) - 1) for a, b in category.get("skeleton", ()))
        sigmas = category.get("sigmas")
        if sigmas is None and names == COCO_KEYPOINTS:
            sigmas = tuple(COCO_SIGMAS)
        return cls(names, flip_pairs_from_names(names), skeleton, sigmas)
