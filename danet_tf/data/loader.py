"""Per-sample work of the input pipeline, in two Python steps around a TensorFlow decode.

1. `SampleLoader.plan` (one call per chunk of samples): read the file, check it, read the
   JPEG header for the image size, draw the augmentation and compute the affine matrix,
   the keypoints and the image region the crop needs (`danet_tf.data.augment`).
2. TensorFlow decodes only that region (`tf.image.decode_and_crop_jpeg`; libjpeg-turbo
   skips the IDCT of the rows and columns outside it).
3. `SampleLoader.warp` (one call per sample): OpenCV's bilinear warp of the region.

Measured on the 2-core machine, per COCO sample (640x480 JPEG, 256x192 crop): a full
OpenCV decode cost 1.6-1.9 CPU-ms inside tf.data, TensorFlow's full decode 1.5 and its
region decode 0.96. Images that are not JPEG (PNG, 16-bit, ...) and JPEGs with other than
1 or 3 components (CMYK) are decoded by OpenCV in step 1, and their region travels
as raw pixels. Every bad sample is counted in the `SkipCounter` with its file and reason;
see `SampleLoader.account` for the one kind of failure that only TensorFlow sees.
"""

from __future__ import annotations

import threading

import numpy as np

from danet_tf.data.augment import TopDownTransform, shift_matrix, source_region, warp_region
from danet_tf.data.dataset import PoseDataset, size_mismatch
from danet_tf.data.images import SkipCounter, check_bytes, decode_image, jpeg_header, read_bytes

SKIP, JPEG, RAW, FATAL = 0, 1, 2, 3  # how a planned sample's bytes are to be decoded
JPEG_DECODE_FAILED = "JPEG data TensorFlow's decoder rejected"


class SampleLoader:
    """The Python steps of the pipeline for one dataset and one `TopDownTransform`.

    Crops are (h, w, 3) RGB of ``image_dtype``; keypoints (K, 3) float32 in crop pixels. In
    training, the augmentation of the element at stream position ``p`` is drawn from
    ``np.random.default_rng((seed, p))``.
    """

    def __init__(
        self, dataset: PoseDataset, transform: TopDownTransform, training: bool,
        counter: SkipCounter, image_dtype: type = np.float32, seed: int = 0,
    ) -> None:  # fmt: skip
        self.samples = dataset.samples
        self.transform = transform
        self.training = training
        self.counter = counter
        self.source = dataset.source
        self.image_dtype = np.dtype(image_dtype)
        self.seed = int(seed)
        self.num_keypoints = dataset.num_keypoints
        self.planned = 0
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}  # serial -> path, planned but not yet accounted

    def _plan_one(self, index: int, position: int):
        """(mode, bytes, region (y0, x0, h, w), matrix, keypoints) or None (counted)."""
        sample = self.samples[index]
        path = sample.image_path
        data, why = read_bytes(path)
        why = why or check_bytes(data)
        header = jpeg_header(data) if why is None else None
        pixels = None
        if why is None and (header is None or header[2] not in (1, 3)):
            pixels, why = decode_image(data, rgb=True)  # not a (gray/RGB) JPEG: OpenCV
        if why is not None:
            self.counter.skip(path, why)
            return None
        hw = header[:2] if pixels is None else pixels.shape[:2]
        if why := size_mismatch(sample.image_size, hw):
            self.counter.skip(path, why)
            return None
        rng = np.random.default_rng((self.seed, position)) if self.training else None
        try:
            planned = self.transform.plan(sample, hw, rng)
            region = None if planned is None else source_region(planned[0], hw, self.transform.input_size)
        except Exception as exc:  # one odd sample must not end a long run
            self.counter.skip(path, f"transform failed: {type(exc).__name__}: {exc}")
            return None
        if region is None:
            self.counter.skip(path, "person box outside the image")
            return None
        matrix, kpts = planned
        y0, x0, h, w = region
        matrix = shift_matrix(matrix, y0, x0)
        if pixels is None:
            return JPEG, data, region, matrix, kpts
        raw = np.ascontiguousarray(pixels[y0 : y0 + h, x0 : x0 + w]).tobytes()
        return RAW, raw, (0, 0, h, w), matrix, kpts

    def plan(self, serials: np.ndarray, indices: np.ndarray, positions: np.ndarray) -> tuple:
        """A chunk of samples -> (mode (n,) int32, data (n,) bytes, region (n, 4) int32,
        matrix (n, 2, 3) float32, keypoints (n, K, 3) float32).

        One call per chunk, not per sample: each `tf.numpy_function` call costs ~0.13 CPU-ms
        of its own (measured on the 2-core machine), a third of a small LSPET sample.
        ``serials`` number the elements in pipeline order (see `account`); ``positions``
        are their positions in the stream (they seed the augmentation).
        """
        n = len(indices)
        mode = np.zeros(n, np.int32)
        data = np.full(n, b"", dtype=object)
        region = np.zeros((n, 4), np.int32)
        matrix = np.zeros((n, 2, 3), np.float32)
        kpts = np.zeros((n, self.num_keypoints, 3), np.float32)
        for i in range(n):
            out = self._plan_one(int(indices[i]), int(positions[i]))
            if out is None:
                continue
            mode[i], data[i], region[i], matrix[i], kpts[i] = out
            with self._lock:
                self._pending[int(serials[i])] = self.samples[int(indices[i])].image_path
        with self._lock:
            self.planned += int((mode != SKIP).sum())
            planned = self.planned
        if planned == 0 and self.counter.total >= len(self.samples):
            # An endless pipeline would otherwise filter forever without a batch. Raising
            # here would vanish in the pipeline's ignore_errors; a FATAL element carries
            # the message past it to an assertion instead.
            mode[:] = FATAL
            data[:] = (f"no sample of {self.source} could be loaded ({self.counter.total} "
                       f"tried): {self.counter.by_reason}").encode()  # fmt: skip
        return mode, data, region, matrix, kpts

    def warp(self, region: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Decoded region (h, w, 3) uint8 -> the crop (H, W, 3) of ``image_dtype``."""
        crop = warp_region(region, matrix, self.transform.input_size)
        return crop.astype(self.image_dtype, copy=False)

    def account(self, serials: np.ndarray) -> np.ndarray:
        """Count the samples TensorFlow's JPEG decoder dropped, from a batch's serials.

        A JPEG whose header parses but whose data libjpeg rejects as fatal fails inside
        the graph; the pipeline drops that element (`ignore_errors`). The pipeline is
        ordered, so every planned serial below the newest one that arrives here and has
        not arrived itself was dropped: it is counted with its file.
        """
        newest = int(serials.max()) if len(serials) else -1
        with self._lock:
            for s in serials:
                self._pending.pop(int(s), None)
            lost = [s for s in self._pending if s < newest]
            paths = [self._pending.pop(s) for s in lost]
        for path in paths:
            self.counter.skip(path, JPEG_DECODE_FAILED)
        return np.int64(len(paths))
