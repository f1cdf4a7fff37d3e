"""Training throughput: samples/s of the real train step (model, loss, Adam) on fixed tensors.

The input pipeline is left out (``tools/benchmark_data.py`` measures it), so the number is
what the model costs; the step is the one the training loop runs.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_tf.config import load_config
from danet_tf.training.step import make_train_step
from danet_tf.training.strategy import make_strategy
from danet_tf.training.trainer import default_model_builder, resolve_level_weights, run_codec


def benchmark_train_step(
    model: str = "danet72",
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    batch_size: int = 8,
    steps: int = 5,
    warmup: int = 2,
    num_keypoints: int = 17,
    mixed_precision: bool = False,
) -> dict[str, float]:
    """Time ``steps`` training steps after ``warmup`` (graph tracing) steps.

    Returns:
        ``{"samples_per_s", "ms_per_step", "batch_size", "steps"}``.
    """
    cfg = load_config(None, {"model.name": model, "model.input_size": list(input_size),
                             "train.global_batch_size": batch_size,
                             "runtime.mixed_precision": mixed_precision})
    if mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16")
    strategy = make_strategy("default")
    codec = run_codec(cfg)
    levels = tuple(codec.level_sigmas)
    net = default_model_builder(cfg, num_keypoints)
    optimizer = keras.optimizers.Adam(3e-4)
    if mixed_precision and tf.config.list_physical_devices("GPU"):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    h, w = input_size
    rng = np.random.default_rng(0)
    # What the input pipeline sends: uint8 crops and keypoints (the step renders heatmaps).
    images = rng.integers(0, 256, (batch_size, h, w, 3), dtype=np.uint8)
    kpts = np.concatenate([rng.uniform(0, w, (batch_size, num_keypoints, 1)),
                           rng.uniform(0, h, (batch_size, num_keypoints, 1)),
                           np.full((batch_size, num_keypoints, 1), 2.0)], axis=-1)  # fmt: skip
    targets = {"keypoints": kpts.astype(np.float32),
               "weights": np.ones((batch_size, num_keypoints), np.float32)}  # fmt: skip
    ds = tf.data.Dataset.from_tensors((images, targets)).repeat()
    iterator = iter(strategy.distribute_datasets_from_function(lambda ctx: ds))
    step = make_train_step(strategy, net, optimizer, step_var, levels,
                            resolve_level_weights(cfg, levels), cfg, batch_size, codec)
    for _ in range(warmup):
        float(step(iterator)["loss"])
    t0 = time.perf_counter()
    for _ in range(steps):
        float(step(iterator)["loss"])
    dt = time.perf_counter() - t0
    return {"samples_per_s": steps * batch_size / dt, "ms_per_step": 1000 * dt / steps,
            "batch_size": batch_size, "steps": steps}
