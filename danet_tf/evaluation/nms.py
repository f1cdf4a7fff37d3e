"""OKS-based non-maximum suppression and the top-down rescoring rule (HRNet/MSPN protocol)."""

from __future__ import annotations

import math

import numpy as np

from danet_tf.codec import COCO_SIGMAS


def check_unit_interval(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number in [0, 1]; else a ValueError naming
    ``name`` (a threshold of -1 or NaN would silently keep one person per image, or all)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    return number


def _check_finite(name: str, values: np.ndarray) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} of {bad.size} values are NaN/inf (first at index "
            f"{int(np.flatnonzero(bad.reshape(-1))[0])})"
        )


def oks(
    a: np.ndarray,
    b: np.ndarray,
    area: np.ndarray | float,
    sigmas: np.ndarray = COCO_SIGMAS,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """Object keypoint similarity of poses ``a`` and ``b`` (..., K, 2|3), broadcast together.

    The one OKS of the project (pycocotools' formula): ``exp(-d^2 / (2 area (2 sigma)^2))``
    per joint, averaged over the ``visible`` joints (..., K) (all K when None). ``area``
    (...) is the person's segment area in the same pixels (COCO: about 0.53 x box area).
    """
    a = np.asarray(a, np.float64)[..., :2]
    b = np.asarray(b, np.float64)[..., :2]
    sig = np.asarray(sigmas, np.float64)
    if sig.shape != (a.shape[-2],) or b.shape[-2] != a.shape[-2]:
        raise ValueError(f"got {sig.shape[0]} sigmas for poses of {a.shape[-2]} and {b.shape[-2]} keypoints")
    d2 = ((a - b) ** 2).sum(axis=-1)
    area = np.asarray(area, np.float64)[..., None]
    e = np.exp(-d2 / (2.0 * (2.0 * sig) ** 2 * (area + np.spacing(1))))
    if visible is None:
        return e.mean(axis=-1)
    vis = np.asarray(visible, np.float64)
    return (e * vis).sum(axis=-1) / np.maximum(vis.sum(axis=-1), 1)


def oks_iou(
    reference: np.ndarray,
    others: np.ndarray,
    reference_area: float,
    other_areas: np.ndarray,
    sigmas: np.ndarray = COCO_SIGMAS,
) -> np.ndarray:
    """OKS between one pose (K, 2|3) and poses (M, K, 2|3) over all K joints, with the mean of
    the two areas (OKS-NMS); returns (M,)."""
    ref = np.asarray(reference, np.float64)
    if np.asarray(sigmas).shape != (ref.shape[0],):
        raise ValueError(f"got {np.asarray(sigmas).shape[0]} sigmas for {ref.shape[0]} keypoints")
    area = (reference_area + np.asarray(other_areas, np.float64)) / 2.0
    return oks(ref[None], others, area, sigmas)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    threshold: float = 0.9,
    sigmas: np.ndarray = COCO_SIGMAS,
) -> np.ndarray:
    """Greedy NMS of poses (N, K, 2|3) of one image: drop a pose whose OKS with a
    higher-scored kept pose exceeds ``threshold``. Returns kept indices, best first.

    ``threshold`` must be in [0, 1] (1 keeps every pose); scores must be finite.
    """
    threshold = check_unit_interval("OKS-NMS threshold", threshold)
    kpts = np.asarray(keypoints)
    scores = np.asarray(scores, np.float64)
    _check_finite("OKS-NMS scores", scores)
    order = np.argsort(-scores, kind="stable")
    areas = np.asarray(areas, np.float64)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        if rest.size == 0:
            break
        oks = oks_iou(kpts[i], kpts[rest], areas[i], areas[rest], sigmas)
        order = rest[oks <= threshold]
    return np.asarray(keep, dtype=np.int64)


def rescore(
    box_scores: np.ndarray, keypoint_scores: np.ndarray, threshold: float = 0.2
) -> np.ndarray:
    """Person score = box score x mean of the keypoint scores above ``threshold`` (0 if none).

    box_scores (N,), keypoint_scores (N, K) -> (N,). ``threshold`` must be in [0, 1]; the
    scores must be finite.
    """
    threshold = check_unit_interval("rescore threshold", threshold)
    kp = np.asarray(keypoint_scores, np.float64)
    box = np.asarray(box_scores, np.float64)
    _check_finite("box scores", box)
    _check_finite("keypoint scores", kp)
    above = kp > threshold
    count = above.sum(axis=-1)
    mean = np.where(count > 0, (kp * above).sum(axis=-1) / np.maximum(count, 1), 0.0)
    return box * mean
