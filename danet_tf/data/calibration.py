"""Real person crops without augmentation: int8 calibration and export checks."""

from __future__ import annotations

import logging

import numpy as np

from danet_tf.data.augment import TopDownTransform
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.images import SkipCounter, read_image

logger = logging.getLogger(__name__)


def calibration_crops(
    dataset: PoseDataset,
    count: int = 64,
    input_size: tuple[int, int] = (256, 192),
    min_keypoints: int = 5,
    skip_counter: SkipCounter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` centred person crops, spread evenly over the dataset (deterministic).

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
    transform = TopDownTransform(dataset.keypoint_info, input_size, {"heatmaps": 2.0})
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
