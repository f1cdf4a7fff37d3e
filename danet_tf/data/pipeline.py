"""The tf.data input pipeline: index -> plan -> region decode -> warp -> batch -> targets.

Python plans a chunk of samples per `tf.numpy_function` call (file checks, augmentation,
the crop's image region), TensorFlow decodes only that region, and OpenCV warps it; the
stages are mapped in parallel (see `danet_tf.data.loader`). The Gaussian targets are
rendered per batch in the graph (`danet_tf.data.targets`, the codec's formula), or in the
train step when ``encode_targets=False``.

Randomness is reproducible and positional: training visits a fresh full permutation of
the samples every pass (`danet_tf.data.order`), and the augmentation of the element at
stream position ``p`` is drawn from a numpy generator seeded with ``(seed, p)``. So results
do not depend on which thread ran first, on the number of shards, or on where a run was
resumed (``start``). A sample whose image is missing,
corrupt or truncated, or whose box lies outside the image, is dropped and counted in a
`SkipCounter`; the run goes on.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from danet_edge.codec import HeatmapCodec
from danet_tf.data.augment import AugmentConfig, TopDownTransform
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.images import SkipCounter
from danet_tf.data.loader import FATAL, JPEG, SKIP, SampleLoader
from danet_tf.data.order import sample_indices
from danet_tf.data.targets import encode_heatmaps, keypoint_weights


def build_dataset(
    dataset: PoseDataset,
    *,
    batch_size: int,
    codec: HeatmapCodec,
    training: bool = True,
    seed: int = 0,
    repeat: bool | None = None,
    start: int = 0,
    drop_remainder: bool | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    rotation: float = 45.0,
    rotation_prob: float = 0.6,
    scale_range: tuple[float, float] = (0.7, 1.35),
    flip: bool = True,
    half_body_prob: float = 0.3,
    half_body_upper_prob: float = 0.7,
    with_keypoints: bool = False,
    skip_counter: SkipCounter | None = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    opencv_threads: int | None = 1,
    encode_targets: bool = True,
    with_serial: bool = False,
    image_dtype: tf.DType | str = tf.float32,
    chunk_size: int = 8,
) -> tf.data.Dataset:
    """Batched top-down samples of ``dataset`` as a `tf.data.Dataset`.

    Args:
        dataset: a PoseDataset from a reader.
        batch_size: samples per batch (for `experimental_distribute_dataset`, the global batch).
        codec: the run's `HeatmapCodec`: crop and heatmap size, box padding, and the levels
            (with their sigmas) whose targets are rendered.
        training: shuffle (a fresh full permutation per pass, `danet_tf.data.order`) and
            augment (rotation, scale, flip, half-body); False gives plain centred crops in
            file order.
        seed: the same seed gives the same batches (order and augmentation).
        repeat: endless dataset; default ``training``.
        start: elements this pipeline has already served (a resumed run): the dataset
            begins with the element an uninterrupted one would yield next.
        drop_remainder: default ``training`` (static batch shape for distribution).
        num_shards, shard_index: this input pipeline's share of the samples, for
            `distribute_datasets_from_function` (then auto-sharding is switched off): every
            ``num_shards``-th position of the stream, starting at ``shard_index``.
        rotation .. half_body_upper_prob: augmentation (see `AugmentConfig`).
        with_keypoints: also yield keypoints (B, K, 3) in crop pixels.
        skip_counter: where dropped samples are counted; a new one otherwise. Either way it
            is available as ``ds.skip_counter``.
        num_parallel_calls: chunks decoded and cropped at once.
        chunk_size: samples per Python call (amortises the per-call cost of
            `tf.numpy_function`; the augmentation does not depend on it).
        encode_targets: False yields targets ``{"keypoints": (B, K, 3), "weights": (B, K)}``
            instead of heatmaps, for a training step that renders them on the accelerator
            with `danet_tf.data.targets.encode_heatmaps` (saves ~0.45 CPU-ms and 835 KB of
            host-to-device copy per 256x192 sample with 4 levels).
        with_serial: the targets also carry ``serial`` (B,) int64: how many elements this
            pipeline had served (from ``start``, dropped samples included) when each sample
            was planned. Training records ``start + max + 1`` with each checkpoint, so a
            resumed run continues exactly where the stream was, whatever was dropped.
        image_dtype: float32 (default) or uint8. uint8 moves a quarter of the bytes through
            batching, prefetch and the host-to-device copy; the training step casts
            (`danet_tf.training` uses uint8 images with ``encode_targets=False``).
        opencv_threads: `cv2.setNumThreads` for the process (None leaves it): tf.data runs
            samples in parallel already, and OpenCV's own pool then only adds overhead
            (a 256x192 warp took 1.5 ms with 2 OpenCV threads, 0.4 ms with 1).

    Returns:
        ``(images, targets)`` or ``(images, targets, keypoints)``: images (B, h, w, 3)
        RGB 0-255 of ``image_dtype``; targets ``{level: (B, hh, hw, K) float32, "weights": (B, K)}``.
    """
    image_dtype = _check_arguments(dataset, batch_size, num_shards, shard_index, start,
                                   image_dtype, chunk_size)
    repeat = training if repeat is None else repeat
    drop_remainder = training if drop_remainder is None else drop_remainder
    augment = (
        AugmentConfig(rotation=rotation, rotation_prob=rotation_prob,
                      scale_range=tuple(scale_range), flip=flip, half_body_prob=half_body_prob,
                      half_body_upper_prob=half_body_upper_prob)
        if training else AugmentConfig.none()
    )  # fmt: skip
    transform = TopDownTransform(dataset.keypoint_info, codec, augment)
    counter = skip_counter if skip_counter is not None else SkipCounter()
    loader = SampleLoader(dataset, transform, training, counter, image_dtype.as_numpy_dtype,
                          seed)  # fmt: skip
    if opencv_threads is not None:
        cv2.setNumThreads(opencv_threads)

    n = len(dataset)
    # This pipeline's positions in the stream; training maps them through the permutations.
    stop = np.iinfo(np.int64).max if repeat else n
    ds = tf.data.Dataset.range(start * num_shards + shard_index, stop, num_shards)
    ds = ds.enumerate()  # (serial, position)
    plan, crop, check = _sample_stages(loader, transform, training, n, seed, image_dtype)
    # Plan a chunk of samples per Python call, then decode and warp each sample. A JPEG
    # that TensorFlow cannot decode drops out in ignore_errors; `loader.account` counts it.
    ds = ds.batch(chunk_size).map(plan, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.unbatch().filter(lambda serial, mode, *rest: mode != SKIP)
    ds = ds.map(crop, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.ignore_errors(log_warning=True).map(check)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    finish = _batch_stage(loader, transform, codec, encode_targets, with_serial, with_keypoints)
    ds = ds.map(finish)  # in order: `account` relies on it
    options = tf.data.Options()
    options.deterministic = True
    if num_shards > 1:
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    ds.skip_counter = counter
    return ds


def _check_arguments(dataset: PoseDataset, batch_size: int, num_shards: int, shard_index: int,
                     start: int, image_dtype: tf.DType | str, chunk_size: int) -> tf.DType:
    """Fail on a bad argument (named) before any tf.data work; the image dtype."""
    if len(dataset) == 0:
        raise ValueError(f"dataset {dataset.source!r} has no samples")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} not in [0, num_shards={num_shards})")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    image_dtype = tf.as_dtype(image_dtype)
    if image_dtype not in (tf.float32, tf.uint8):
        raise ValueError(f"image_dtype must be float32 or uint8, got {image_dtype.name!r}")
    return image_dtype


def _sample_stages(loader: SampleLoader, transform: TopDownTransform, training: bool, n: int,
                   seed: int, image_dtype: tf.DType):
    """The per-sample stages: ``plan`` (a chunk of stream positions -> what to decode, the
    warp and the keypoints, in Python), ``crop`` (decode only the region, warp it) and
    ``check`` (a fatal error stops the run with its message)."""
    h, w = transform.input_size
    k = loader.num_keypoints

    def plan(serial: tf.Tensor, position: tf.Tensor):
        index = sample_indices(position, n, seed) if training else position % n
        mode, data, region, matrix, kpts = tf.numpy_function(
            loader.plan, [serial, index, position],
            (tf.int32, tf.string, tf.int32, tf.float32, tf.float32), stateful=False,
        )  # fmt: skip
        return serial, mode, data, tf.ensure_shape(region, (None, 4)), \
            tf.ensure_shape(matrix, (None, 2, 3)), tf.ensure_shape(kpts, (None, k, 3))

    def crop(serial, mode, data, region, matrix, kpts):
        def decode():
            return tf.cond(
                mode == JPEG,
                lambda: tf.image.decode_and_crop_jpeg(
                    data, region, channels=3, dct_method="INTEGER_ACCURATE"  # = OpenCV's
                ),
                lambda: tf.reshape(tf.io.decode_raw(data, tf.uint8), [region[2], region[3], 3]),
            )

        def warp():
            out = tf.numpy_function(loader.warp, [decode(), matrix], image_dtype, stateful=False)
            return tf.ensure_shape(out, (h, w, 3))

        image = tf.cond(mode == FATAL, lambda: tf.zeros((h, w, 3), image_dtype), warp)
        message = tf.where(mode == FATAL, data, "")
        return serial, image, kpts, mode, message

    def check(serial, image, kpts, mode, message):
        ok = tf.debugging.Assert(mode != FATAL, [message])
        with tf.control_dependencies([ok]):
            return tf.identity(serial), image, kpts

    return plan, crop, check


def _batch_stage(loader: SampleLoader, transform: TopDownTransform, codec: HeatmapCodec,
                 encode_targets: bool, with_serial: bool, with_keypoints: bool):
    """The per-batch stage: count dropped samples, render the targets (or pass the
    keypoints for the train step to render), attach the stream serials."""

    def finish(serial, image, kpts):
        dropped = tf.numpy_function(loader.account, [serial], tf.int64, stateful=True)
        with tf.control_dependencies([dropped]):
            image = tf.identity(image)
        if encode_targets:
            targets = encode_heatmaps(kpts, codec)
        else:
            targets = {"keypoints": kpts, "weights": keypoint_weights(kpts, transform.input_size)}
        if with_serial:
            # Elements this pipeline had served when each sample was planned (dropped ones
            # included): a resumed run starts at the last batch's max + 1 (`start`).
            targets["serial"] = serial
        return (image, targets, kpts) if with_keypoints else (image, targets)

    return finish
