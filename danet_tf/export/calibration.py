"""Real person crops for int8 calibration, QAT fine-tuning and export verification.

The crops come from the input pipeline (``danet_tf.data``: the COCO reader and its
unaugmented top-down transform), made exactly as at inference: person box -> centre/scale
with the 1.25 padding -> affine crop, RGB float32 0-255. Calibration therefore sees the
activation ranges the deployed model sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


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

    def split(self, every: int = 5) -> tuple[CropSet, CropSet]:
        """(calibration, verification): every ``every``-th crop is held out for verification."""
        held = np.arange(len(self)) % every == 0
        keep = ~held
        return (
            CropSet(self.images[keep], self.keypoints[keep], self.source),
            CropSet(self.images[held], self.keypoints[held], self.source),
        )


def person_crops(
    annotations: str | Path,
    images_dir: str | Path | None,
    input_size: tuple[int, int],
    count: int = 64,
) -> CropSet:
    """Up to ``count`` crops of annotated persons of a COCO keypoint file, spread over it."""
    from danet_tf.data import calibration_crops, load_coco

    dataset = load_coco(annotations, images_dir)
    images, keypoints = calibration_crops(dataset, count=count, input_size=tuple(input_size))
    return CropSet(images, keypoints, str(annotations))
