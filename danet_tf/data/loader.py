"""Per-sample work of the input pipeline: read, decode, augment and crop one person."""

from __future__ import annotations

import cv2
import numpy as np

from danet_tf.data.augment import TopDownTransform
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.images import SkipCounter, read_image

_KEY_MASK = (1 << 63) - 1


class SampleLoader:
    """Callable turning (sample index, random key) into ``(image, keypoints, ok)`` arrays.

    image: (h, w, 3) float32 RGB crop; keypoints: (K, 3) float32 in crop pixels. On a bad
    sample ``ok`` is False, the arrays are zeros and the counter records why.

    Measured on the 2-core machine (256x192 crop): OpenCV's warpAffine has SIMD code for 1
    and 4 channels but not 3 (0.30 ms from RGBA, 0.70 ms from RGB, more than the JPEG
    decode), so the crop is made from RGBA; dropping the channel and converting to float32
    costs 0.05 ms in OpenCV/numpy but 0.46 ms as TensorFlow slice + cast on the batch.
    """

    def __init__(
        self, dataset: PoseDataset, transform: TopDownTransform, training: bool,
        counter: SkipCounter,
    ) -> None:  # fmt: skip
        self.samples = dataset.samples
        self.transform = transform
        self.training = training
        self.counter = counter
        self.source = dataset.source
        self.loaded = 0
        h, w = transform.input_size
        k = dataset.num_keypoints
        self._empty = (np.zeros((h, w, 3), np.float32), np.zeros((k, 3), np.float32), False)

    def load(self, index: int, key: int) -> tuple[np.ndarray, np.ndarray] | None:
        sample = self.samples[index]
        image, why = read_image(sample.image_path, rgb=True)
        if image is None:
            self.counter.skip(sample.image_path, why)
            return None
        rng = np.random.default_rng(key & _KEY_MASK) if self.training else None
        try:
            result = self.transform.crop(cv2.cvtColor(image, cv2.COLOR_RGB2RGBA), sample, rng)
        except Exception as exc:  # one odd sample must not end a long run
            self.counter.skip(sample.image_path, f"transform failed: {type(exc).__name__}: {exc}")
            return None
        if result is None:
            self.counter.skip(sample.image_path, "person box outside the image")
        return result

    def __call__(self, index: np.ndarray, key: np.ndarray) -> tuple:
        result = self.load(int(index), int(key))
        if result is None:
            if self.loaded == 0 and self.counter.total >= len(self.samples):
                # An endless pipeline would otherwise filter forever without a batch.
                raise RuntimeError(
                    f"no sample of {self.source} could be loaded ({self.counter.total} tried): "
                    f"{self.counter.by_reason}"
                )
            return self._empty
        self.loaded += 1
        crop, kpts = result
        return cv2.cvtColor(crop, cv2.COLOR_RGBA2RGB).astype(np.float32), kpts, True
