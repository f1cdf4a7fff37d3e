"""Real person crops without augmentation, for int8 calibration, QAT fine-tuning and export
verification.

The crops are made exactly as at inference, by the model's own codec: person box ->
centre/scale with the codec's padding -> affine crop, RGB float32 0-255. Calibration
therefore sees the activation ranges the deployed model sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from danet_edge.codec import HeatmapCodec
from danet_tf.data.augment import TopDownTransform
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.images import SkipCounter, read_image

logger = logging.getLogger(__name__)


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
    codec: HeatmapCodec,
    count: int = 64,
) -> CropSet:
    """Up to ``count`` crops of annotated persons of a COCO keypoint file, spread over it, cut
    by ``codec`` (the model's: its input size and box padding)."""
    from danet_tf.data.coco import load_coco

    dataset = load_coco(annotations, images_dir)
    images, keypoints = calibration_crops(dataset, codec, count=count)
    return CropSet(images, keypoints, str(annotations))


def calibration_crops(
    dataset: PoseDataset,
    codec: HeatmapCodec,
    count: int = 64,
    min_keypoints: int = 5,
    skip_counter: SkipCounter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` centred person crops cut by ``codec``, spread evenly over the dataset
    (deterministic).

    Persons need at least ``min_keypoints`` labelled joints (falling back to all persons
    when too few qualify); unreadable images (the checks of `danet_edge.images`) and persons
    whose box misses the image are skipped, counted in ``skip_counter`` and logged as one
    warning line.

    Returns:
        images (N, h, w, 3) float32 RGB 0-255 and keypoints (N, K, 3) float32 in crop pixels.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    samples = [s for s in dataset.samples if (s.keypoints[:, 2] > 0).sum() >= min_keypoints]
    samples = samples if len(samples) >= count else list(dataset.samples)
    if not samples:
        raise ValueError(f"dataset {dataset.source!r} has no samples")
    transform = TopDownTransform(dataset.keypoint_info, codec)
    counter = skip_counter if skip_counter is not None else SkipCounter()
    order = np.unique(np.linspace(0, len(samples) - 1, len(samples)).round().astype(int))
    # Evenly spread first choices, then the rest, so bad files are replaced by others.
    step = max(len(samples) // count, 1)
    order = np.concatenate([order[::step], np.setdiff1d(order, order[::step])])
    images, keypoints = [], []
    for i in order:
        if len(images) == count:
            break
        image, why = read_image(samples[i].image_path, rgb=True)
        if image is None:
            counter.skip(samples[i].image_path, why)
            continue
        result = transform(image, samples[i])
        if result is None:
            counter.skip(samples[i].image_path, "person box outside the image")
            continue
        images.append(result.image.astype(np.float32))
        keypoints.append(result.keypoints)
    if counter.total:
        logger.warning("calibration crops from %s: %s", dataset.source, counter.summary())
    if not images:
        raise ValueError(f"no readable person crop in {dataset.source!r} ({counter})")
    return np.stack(images), np.stack(keypoints)
