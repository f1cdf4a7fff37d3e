"""Dataset readers, top-down augmentation, the tf.data pipeline and the synthetic data.

The readers, `images`, `augment` and `synthetic` use numpy/OpenCV only; the tf.data
pipeline (`build_dataset`) imports TensorFlow when first used.
"""

from __future__ import annotations

from typing import Any

from danet_tf.data.augment import AugmentConfig, CropResult, TopDownTransform
from danet_tf.data.calibration import calibration_crops
from danet_tf.data.coco import load_coco, load_lsp
from danet_tf.data.dataset import AnnotationError, FilterCounts, PoseDataset, PoseSample
from danet_tf.data.images import ImageReadError, SkipCounter, load_image, read_image
from danet_tf.data.mpii import load_mpii

__all__ = [
    "AnnotationError",
    "AugmentConfig",
    "CropResult",
    "FilterCounts",
    "ImageReadError",
    "PoseDataset",
    "PoseSample",
    "SkipCounter",
    "TopDownTransform",
    "build_dataset",
    "calibration_crops",
    "load_coco",
    "load_image",
    "load_lsp",
    "load_mpii",
    "read_image",
]


def __getattr__(name: str) -> Any:
    if name == "build_dataset":
        from danet_tf.data.pipeline import build_dataset

        return build_dataset
    raise AttributeError(f"module 'danet_tf.data' has no attribute {name!r}")
