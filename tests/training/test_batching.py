from __future__ import annotations

import math

import keras
import pytest

from danet_tf.config import load_config
from danet_tf.training.batching import batch_plan
from danet_tf.training.schedule import build_optimizer


def _train(**over):
    return load_config(None, {f"train.{k}": v for k, v in over.items()}).train


def test_the_paper_batch_on_eight_replicas():
    plan = batch_plan(_train(), 8)
    assert (plan.global_batch, plan.per_replica, plan.replicas) == (256, 32, 8)
    assert plan.learning_rate == pytest.approx(3e-4) and plan.lr_factor == 1.0


@pytest.mark.parametrize(("rule", "factor"), [("linear", 0.25), ("sqrt", 0.5), ("none", 1.0)])
def test_learning_rate_follows_the_global_batch(rule, factor):
    plan = batch_plan(_train(global_batch_size=64, lr_scaling=rule, end_learning_rate=1e-5), 2)
    assert plan.per_replica == 32
    assert plan.lr_factor == pytest.approx(factor)
    assert plan.learning_rate == pytest.approx(3e-4 * factor)
    assert plan.end_learning_rate == pytest.approx(1e-5 * factor)


def test_reference_batch_sets_what_the_rate_means():
    plan = batch_plan(_train(global_batch_size=512, reference_batch_size=128,
                             learning_rate=1e-3, lr_scaling="sqrt"), 4)  # fmt: skip
    assert plan.learning_rate == pytest.approx(1e-3 * math.sqrt(4))


def test_indivisible_global_batch_names_the_field():
    with pytest.raises(ValueError, match=r"train.global_batch_size: 250 is not divisible by "
                                         r"the 8 replicas.*\(e.g. 248 or 256\)"):
        batch_plan(_train(global_batch_size=250), 8)
    with pytest.raises(ValueError, match="not divisible by the 4 replicas"):
        batch_plan(_train(global_batch_size=2), 4)


def test_optimizer_gets_the_scaled_rate_and_epsilon():
    cfg = _train(global_batch_size=32, adam_epsilon=1e-8)
    opt = build_optimizer(cfg, total_steps=10, lr_factor=batch_plan(cfg, 1).lr_factor)
    assert isinstance(opt, keras.optimizers.Adam)
    assert float(opt.learning_rate) == pytest.approx(3e-4 / 8)
    assert opt.epsilon == pytest.approx(1e-8)
