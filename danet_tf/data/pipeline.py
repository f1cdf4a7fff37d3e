"""The tf.data input pipeline: index -> decode -> augment -> batch -> encode -> prefetch.

Decoding and the affine crop run in OpenCV inside one `tf.numpy_function` per sample,
mapped in parallel (OpenCV releases the GIL, and little Python runs around it). The
Gaussian targets are rendered per batch in the graph (`danet_tf.data.targets`, the codec's
formula), because numpy encoding held the GIL for most of each sample's time.

Randomness is reproducible: each element carries a key drawn from a seeded
`tf.data.Dataset.random`, and its augmentation uses a numpy generator seeded with that
key, so results do not depend on which thread ran first. A sample whose image is missing,
corrupt or truncated, or whose box lies outside the image, is dropped and counted in a
`SkipCounter`; the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import tensorflow as tf

from danet_tf.data.augment import AugmentConfig, TopDownTransform
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.images import SkipCounter
from danet_tf.data.loader import SampleLoader
from danet_tf.data.targets import encode_heatmaps, keypoint_weights


def default_level_sigmas() -> dict[str, float]:
    """The model's supervised levels and their sigmas (danet_tf.models.DEFAULT_LEVEL_SIGMAS)."""
    from danet_tf.models import DEFAULT_LEVEL_SIGMAS

    return dict(DEFAULT_LEVEL_SIGMAS)


def build_dataset(
    dataset: PoseDataset,
    *,
    batch_size: int,
    input_size: tuple[int, int] = (256, 192),
    level_sigmas: Mapping[str, float] | None = None,
    heatmap_size: tuple[int, int] | None = None,
    training: bool = True,
    seed: int = 0,
    repeat: bool | None = None,
    shuffle_buffer: int | None = None,
    drop_remainder: bool | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    rotation: float = 45.0,
    rotation_prob: float = 0.6,
    scale_range: tuple[float, float] = (0.7, 1.35),
    flip: bool = True,
    half_body_prob: float = 0.3,
    with_keypoints: bool = False,
    skip_counter: SkipCounter | None = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    opencv_threads: int | None = 1,
    encode_targets: bool = True,
) -> tf.data.Dataset:
    """Batched top-down samples of ``dataset`` as a `tf.data.Dataset`.

    Args:
        dataset: a PoseDataset from a reader.
        batch_size: samples per batch (for `experimental_distribute_dataset`, the global batch).
        input_size: crop (h, w). heatmap_size: (h, w), default input_size / 4.
        level_sigmas: level name -> sigma; default the model's `DEFAULT_LEVEL_SIGMAS`.
        training: shuffle and augment (rotation, scale, flip, half-body); False gives plain
            centred crops in file order.
        seed: the same seed gives the same batches (order and augmentation).
        repeat: endless dataset; default ``training``.
        shuffle_buffer: default the whole dataset (a full permutation each epoch).
        drop_remainder: default ``training`` (static batch shape for distribution).
        num_shards, shard_index: this input pipeline's share of the samples, for
            `distribute_datasets_from_function` (then auto-sharding is switched off).
        rotation .. half_body_prob: augmentation (see `AugmentConfig`).
        with_keypoints: also yield keypoints (B, K, 3) in crop pixels.
        skip_counter: where dropped samples are counted; a new one otherwise. Either way it
            is available as ``ds.skip_counter``.
        num_parallel_calls: samples decoded and cropped at once.
        encode_targets: False yields targets ``{"keypoints": (B, K, 3), "weights": (B, K)}``
            instead of heatmaps, for a training step that renders them on the accelerator
            with `danet_tf.data.targets.encode_heatmaps` (saves ~0.45 CPU-ms and 835 KB of
            host-to-device copy per 256x192 sample with 4 levels).
        opencv_threads: `cv2.setNumThreads` for the process (None leaves it): tf.data runs
            samples in parallel already, and OpenCV's own pool then only adds overhead
            (a 256x192 warp took 1.5 ms with 2 OpenCV threads, 0.4 ms with 1).

    Returns:
        ``(images, targets)`` or ``(images, targets, keypoints)``: images float32
        (B, h, w, 3) RGB 0-255; targets ``{level: (B, hh, hw, K) float32, "weights": (B, K)}``.
    """
    if len(dataset) == 0:
        raise ValueError(f"dataset {dataset.source!r} has no samples")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} not in [0, num_shards={num_shards})")
    repeat = training if repeat is None else repeat
    drop_remainder = training if drop_remainder is None else drop_remainder
    augment = (
        AugmentConfig(
            rotation=rotation,
            rotation_prob=rotation_prob,
            scale_range=tuple(scale_range),
            flip=flip,
            half_body_prob=half_body_prob,
        )
        if training
        else AugmentConfig.none()
    )
    sigmas = dict(level_sigmas) if level_sigmas else default_level_sigmas()
    transform = TopDownTransform(dataset.keypoint_info, input_size, None, heatmap_size, augment)
    counter = skip_counter if skip_counter is not None else SkipCounter()
    loader = SampleLoader(dataset, transform, training, counter)
    h, w = transform.input_size
    k = dataset.num_keypoints
    if opencv_threads is not None:
        cv2.setNumThreads(opencv_threads)

    ds = tf.data.Dataset.range(len(dataset))
    if num_shards > 1:
        ds = ds.shard(num_shards, shard_index)
    if training:
        n = len(dataset) // num_shards + 1
        ds = ds.shuffle(shuffle_buffer or n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    keys = tf.data.Dataset.random(seed=seed * 1000003 + shard_index)
    ds = tf.data.Dataset.zip((ds, keys))

    def load(index: tf.Tensor, key: tf.Tensor):
        image, kpts, ok = tf.numpy_function(
            loader, [index, key], (tf.float32, tf.float32, tf.bool), stateful=False
        )
        image.set_shape((h, w, 3))
        kpts.set_shape((k, 3))
        ok.set_shape(())
        return image, kpts, ok

    ds = ds.map(load, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.filter(lambda image, kpts, ok: ok)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def finish(image, kpts, ok):
        if encode_targets:
            targets = encode_heatmaps(kpts, transform.input_size, transform.heatmap_size, sigmas)
        else:
            targets = {"keypoints": kpts, "weights": keypoint_weights(kpts, transform.input_size)}
        return (image, targets, kpts) if with_keypoints else (image, targets)

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    if num_shards > 1:
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    ds.skip_counter = counter
    return ds
