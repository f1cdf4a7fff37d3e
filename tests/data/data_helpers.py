"""Small builders shared by the data tests (COCO json and image files in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from danet_tf.codec import COCO_KEYPOINTS


def person(image_id: int, ann_id: int, box, kpts=None, **extra) -> dict:
    if kpts is None:
        x, y, w, h = box
        kpts = []
        for j in range(17):
            kpts += [x + w * (0.2 + 0.6 * (j % 2)), y + h * (j + 1) / 18.0, 2]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "bbox": list(box), "area": box[2] * box[3] * 0.5, "keypoints": kpts,
            "num_keypoints": 17, **extra}  # fmt: skip


def write_coco(path: Path, images: list[dict], annotations: list[dict]) -> Path:
    cat = {"id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS), "skeleton": []}
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [cat]}))  # fmt: skip
    return path


def write_jpeg(path: Path, h: int = 120, w: int = 100, seed: int = 0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    data = cv2.imencode(".jpg", img)[1].tobytes()
    path.write_bytes(data)
    return data
