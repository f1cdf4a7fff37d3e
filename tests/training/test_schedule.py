from __future__ import annotations

import keras
import numpy as np
import pytest

from danet_tf.config import load_config
from danet_tf.training.schedule import LinearDecay, build_optimizer


def test_linear_decay_to_zero():
    sched = LinearDecay(3e-4, total_steps=100)
    lrs = [float(sched(s)) for s in (0, 50, 100, 150)]
    np.testing.assert_allclose(lrs, [3e-4, 1.5e-4, 0.0, 0.0], atol=1e-10)


def test_warmup_then_decay():
    sched = LinearDecay(1.0, total_steps=10, warmup_steps=4)
    np.testing.assert_allclose([float(sched(s)) for s in (0, 3, 4, 7, 10)],
                               [0.25, 1.0, 1.0, 0.5, 0.0], atol=1e-6)


def test_schedule_serializes():
    sched = LinearDecay(2e-4, 1000, 1e-6, 10)
    data = keras.saving.serialize_keras_object(sched)
    again = keras.saving.deserialize_keras_object(data)
    assert isinstance(again, LinearDecay) and again.get_config() == sched.get_config()


def test_optimizer_from_config():
    opt = build_optimizer(load_config().train, total_steps=10)
    assert isinstance(opt, keras.optimizers.Adam)
    assert float(opt.learning_rate) == pytest.approx(3e-4)


def test_bad_schedule_values():
    with pytest.raises(ValueError, match="total_steps"):
        LinearDecay(1.0, 0)
    with pytest.raises(ValueError, match="weight_decay"):
        build_optimizer(load_config(None, {"train.weight_decay": 0.1}).train, 10)
