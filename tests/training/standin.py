"""Stand-ins with the model/data contract of docs/CONTRACTS.md, for fast loop tests."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from danet_tf.config import Config
from danet_tf.training.inputs import TrainInputs

LEVELS = ("heatmaps_s32", "heatmaps_s16", "heatmaps_s8", "heatmaps")


def standin_model(cfg: Config, num_keypoints: int) -> keras.Model:
    h, w = cfg.model.input_size
    image = keras.Input((h, w, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="scale")(image)
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="stem")(x)
    # Fixed names: the strategy test compares weights by variable path across processes.
    outs = {lvl: keras.layers.Activation("linear", dtype="float32", name=lvl)(
        keras.layers.Conv2D(num_keypoints, 3, padding="same", name=f"{lvl}_conv")(x))
        for lvl in LEVELS}
    return keras.Model(image, outs, name="standin")


def standin_inference(model: keras.Model) -> keras.Model:
    return keras.Model(model.inputs, model.get_layer("heatmaps").output, name="standin_infer")


def random_inputs(num_keypoints: int = 5, size: tuple[int, int] = (64, 32),
                  num_samples: int = 64) -> TrainInputs:
    h, w = size

    def make(batch: int, seed: int, num_shards: int, shard: int, start: int) -> tf.data.Dataset:
        rng = np.random.default_rng(seed)
        n = 16
        images = rng.uniform(0, 255, (n, h, w, 3)).astype(np.float32)
        heat = rng.uniform(0, 1, (n, h // 4, w // 4, num_keypoints)).astype(np.float32)
        weights = (rng.uniform(size=(n, num_keypoints)) > 0.2).astype(np.float32)
        targets = {lvl: heat for lvl in LEVELS} | {"weights": weights, "visible": weights}
        return tf.data.Dataset.from_tensor_slices((images, targets)).repeat().batch(batch)

    return TrainInputs(num_keypoints, num_samples, make, description="random tensors")


def sharded_inputs(num_keypoints: int = 5, size: tuple[int, int] = (64, 32),
                   num_samples: int = 16) -> TrainInputs:
    """Fixed samples; shard ``i`` of ``n`` gets rows ``i::n``.

    One pipeline with per-replica batch ``b`` and two replicas, or two pipelines (workers)
    with batch ``b`` each, then see the same global batches as one replica with ``2 b``, so
    every strategy must reach the same weights.
    """
    h, w = size
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (num_samples, h, w, 3)).astype(np.float32)
    heat = rng.uniform(0, 1, (num_samples, h // 4, w // 4, num_keypoints)).astype(np.float32)
    weights = (rng.uniform(size=(num_samples, num_keypoints)) > 0.2).astype(np.float32)
    visible = weights * (rng.uniform(size=weights.shape) > 0.3)
    targets = {lvl: heat for lvl in LEVELS} | {"weights": weights, "visible": visible}

    def make(batch: int, seed: int, num_shards: int, shard: int, start: int) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((images, targets)).shard(num_shards, shard)
        return ds.repeat().skip(start).batch(batch, drop_remainder=True)

    return TrainInputs(num_keypoints, num_samples, make, description="fixed random tensors")
