"""MPII reader for the json layout of HRNet / mmpose (a list of per-person records)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from danet_tf.codec import MPII_KEYPOINTS, KeypointInfo, flip_pairs_from_names
from danet_tf.data.coco import default_image_dir, load_json
from danet_tf.data.dataset import (
    AnnotationError,
    FilterCounts,
    PoseDataset,
    PoseSample,
    check_numbers,
    filter_person,
    is_number,
    log_counts,
    shown,
)

# 0-based limbs of the MPII layout (ankle-knee-hip, pelvis-thorax-neck-head, arms).
MPII_SKELETON = (
    (0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (10, 11), (11, 12), (12, 7), (13, 7), (13, 14), (14, 15),
)  # fmt: skip
PIXEL_STD = 200.0  # MPII's scale is the person height in units of 200 px
_KEYS = ("image", "joints", "joints_vis", "center", "scale")


def mpii_keypoint_info() -> KeypointInfo:
    return KeypointInfo(MPII_KEYPOINTS, flip_pairs_from_names(MPII_KEYPOINTS), MPII_SKELETON)


def _check_record(path: Path, i: int, rec: dict, num_kpts: int) -> None:
    """Raise unless record ``i`` has the MPII json types (names the record and the field)."""
    image = rec["image"]
    if not isinstance(image, str) or not image:
        raise AnnotationError(path, f"record {i}: 'image' must be a file name, got {shown(image)}")
    where = f"record {i} ({image})"
    joints = rec["joints"]
    if not isinstance(joints, list) or len(joints) != num_kpts:
        got = f"{len(joints)} entries" if isinstance(joints, list) else shown(joints)
        raise AnnotationError(
            path, f"{where}: joints {got}, expected ({num_kpts}, 2): a list of [x, y]"
        )
    for j, xy in enumerate(joints):
        check_numbers(path, where, f"joints[{j}]", xy, 2, "x, y")
    vis = rec["joints_vis"]
    if isinstance(vis, list) and len(vis) != num_kpts:
        raise AnnotationError(path, f"{where}: joints_vis ({len(vis)},), expected ({num_kpts},)")
    check_numbers(path, where, "joints_vis", vis, num_kpts, "0 or 1 per joint")
    check_numbers(path, where, "center", rec["center"], 2, "x, y")
    if not is_number(rec["scale"]):
        raise AnnotationError(path, f"{where}: 'scale' must be a number, got {shown(rec['scale'])}")


def load_mpii(ann_file: str | Path, image_dir: str | Path | None = None) -> PoseDataset:
    """Read MPII annotations: a json list of ``{image, joints, joints_vis, center, scale}``.

    As in HRNet, the 1-based MATLAB coordinates become 0-based, the centre moves down by
    15 * scale px (MPII centres sit on the torso, above the body middle) and the box is
    ``scale * 200`` px tall and 3/4 of that wide around it, so `box_to_center_scale` with
    the usual 4:3 aspect and 1.25 padding gives HRNet's crop region exactly.
    Joint names follow `danet_tf.codec.MPII_KEYPOINTS` (16 joints).

    Raises:
        AnnotationError: not a list, missing keys, wrong joint count (names file and record).
    """
    path = Path(ann_file)
    records = load_json(path)
    if not isinstance(records, list):
        raise AnnotationError(
            path, f"MPII json must be a list of records, got {type(records).__name__}"
        )
    info = mpii_keypoint_info()
    num_kpts = info.num_keypoints
    root = Path(image_dir) if image_dir is not None else default_image_dir(path)
    counts = FilterCounts()
    samples = []
    for i, rec in enumerate(records):
        missing = [k for k in _KEYS if not isinstance(rec, dict) or k not in rec]
        if missing:
            raise AnnotationError(path, f"record {i} lacks key(s) {missing}")
        _check_record(path, i, rec, num_kpts)
        joints = np.asarray(rec["joints"], np.float32)
        vis = np.asarray(rec["joints_vis"], np.float32).reshape(-1)
        scale = float(rec["scale"])
        center = np.asarray(rec["center"], np.float32).reshape(-1)
        labelled = vis > 0
        kpts = np.zeros((num_kpts, 3), np.float32)
        kpts[labelled, :2] = joints[labelled] - 1.0
        kpts[labelled, 2] = 2.0
        cx, cy = center - 1.0
        cy += 15.0 * scale
        height = scale * PIXEL_STD
        width = 0.75 * height
        box = filter_person(
            np.array([cx - width / 2, cy - height / 2, width, height], np.float32), kpts, counts
        )
        if box is not None:
            samples.append(PoseSample(str((root / rec["image"]).resolve()), i, box, kpts, i))
    log_counts(path, counts)
    return PoseDataset(samples, info, counts, str(path))
