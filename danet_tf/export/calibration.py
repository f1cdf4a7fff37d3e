"""Real person crops for int8 calibration, QAT fine-tuning and export verification.

Crops are made exactly as at inference (codec geometry: person box -> centre/scale with the
1.25 padding -> affine crop, RGB float32 0-255), so calibration sees the activation ranges the
deployed model sees. The data package's reader does the annotation parsing when it is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from danet_tf.codec import affine_points, box_to_center_scale, crop_person, get_affine_transform

MIN_KEYPOINTS = 5


@dataclass
class CropSet:
    """Person crops with their annotated keypoints in crop pixels.

    Attributes:
        images: (N, H, W, 3) float32 RGB 0-255.
        keypoints: (N, K, 3) float32 x, y, visibility in crop pixels.
        source: where the crops came from, for messages.
    """

    images: np.ndarray
    keypoints: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def split(self, n_first: int) -> tuple[CropSet, CropSet]:
        """The first ``n_first`` crops and the rest (calibration vs. verification)."""
        a = CropSet(self.images[:n_first], self.keypoints[:n_first], self.source)
        b = CropSet(self.images[n_first:], self.keypoints[n_first:], self.source)
        return a, b


def person_crops(
    annotations: str | Path,
    images_dir: str | Path,
    input_size: tuple[int, int],
    count: int = 64,
    padding: float = 1.25,
    min_keypoints: int = MIN_KEYPOINTS,
) -> CropSet:
    """Up to ``count`` crops of annotated persons from a COCO keypoint file.

    Persons are those with at least ``min_keypoints`` labelled joints and no crowd flag,
    taken evenly over the file (deterministic).
    """
    annotations, images_dir = Path(annotations), Path(images_dir)
    data = json.loads(annotations.read_text(encoding="utf-8"))
    files = {img["id"]: img["file_name"] for img in data["images"]}
    anns = [
        a
        for a in data["annotations"]
        if not a.get("iscrowd", 0) and a.get("num_keypoints", 0) >= min_keypoints
    ]
    if not anns:
        raise ValueError(f"{annotations}: no person with >= {min_keypoints} labelled keypoints")
    pick = np.unique(np.linspace(0, len(anns) - 1, min(count, len(anns))).round().astype(int))
    h, w = input_size
    images, keypoints = [], []
    for i in pick:
        ann = anns[i]
        path = images_dir / files[ann["image_id"]]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read image {path} of annotation {ann.get('id')}")
        center, scale = box_to_center_scale(ann["bbox"], w / h, padding)
        crop = crop_person(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), center, scale, (h, w))
        kpts = np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
        matrix = get_affine_transform(center, scale, 0.0, (h, w))
        kpts[:, :2] = affine_points(kpts[:, :2], matrix)
        images.append(crop.astype(np.float32))
        keypoints.append(kpts)
    return CropSet(np.stack(images), np.stack(keypoints), str(annotations))
