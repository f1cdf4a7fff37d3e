"""The gradient-vs-epsilon measurement behind the default target scale (docs/training.md)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from danet_tf.config import load_config
from danet_tf.training.gradient_floor import measure


def test_larger_targets_lift_the_first_gradients_above_epsilon():
    cfg = load_config(None, {"model.name": "danet_tiny", "model.input_size": "64x64"})
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8))
    kpts = np.concatenate([rng.uniform(4, 60, (4, 17, 2)), rng.integers(1, 3, (4, 17, 1))], -1)
    rows = measure(cfg, images, tf.constant(kpts, tf.float32), [1.0, 255.0], [1e-7])
    low, high = rows[0]["1e-07"], rows[1]["1e-07"]
    assert 0.0 <= high < low <= 1.0
    # At initialisation the gradient is close to proportional to the target peak.
    assert 100 < rows[1]["median"] / rows[0]["median"] < 400
