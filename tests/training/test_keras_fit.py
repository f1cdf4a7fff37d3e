"""The DANet loss as a keras.losses.Loss, and the model.fit block of docs/training.md."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from danet_tf.training import PoseLoss
from danet_tf.training.keras_fit import pack_targets
from danet_tf.training.losses import pose_loss
from tests.harness import REPO

LEVELS = ("heatmaps_s32", "heatmaps_s16", "heatmaps_s8", "heatmaps")


def test_pose_loss_class_equals_the_loop_loss():
    rng = np.random.default_rng(0)
    n, h, w, k = 3, 8, 6, 5
    targets = {lvl: tf.constant(rng.uniform(0, 1, (n, h, w, k)), tf.float32) for lvl in LEVELS}
    weights = (rng.uniform(size=(n, k)) > 0.3).astype(np.float32)
    targets["weights"] = tf.constant(weights)
    targets["visible"] = tf.constant(weights * (rng.uniform(size=(n, k)) > 0.4))
    outputs = {lvl: tf.constant(rng.uniform(0, 30, (n, h, w, k)), tf.float32) for lvl in LEVELS}
    weights_per_level = (0.25, 0.25, 0.25, 0.0)
    direct = pose_loss(targets, outputs, LEVELS, weights_per_level, 1.0, 0.5, 30.0, True)["loss"]
    loss = PoseLoss(LEVELS, weights_per_level, k, 1.0, 0.5, 30.0, True)
    y_true = pack_targets(targets, LEVELS)
    y_pred = tf.concat([outputs[lvl] for lvl in LEVELS], axis=-1)
    assert isinstance(loss, keras.losses.Loss)
    np.testing.assert_allclose(float(loss(y_true, y_pred)), float(tf.reduce_mean(direct)),
                               rtol=1e-6)
    again = PoseLoss.from_config(loss.get_config())
    np.testing.assert_allclose(float(again(y_true, y_pred)), float(loss(y_true, y_pred)))


def _doc_block() -> str:
    text = (REPO / "docs" / "training.md").read_text()
    match = re.search(r"<!-- fit-example -->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/training.md lost its model.fit example"
    return match.group(1)


@pytest.mark.slow
def test_docs_model_fit_example_runs(tmp_path, monkeypatch):
    import danet_tf

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # synthetic data go here
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(REPO / "configs")
    scope: dict = {}
    exec(compile(_doc_block(), "docs/training.md", "exec"), scope)  # noqa: S102
    losses = scope["history"].history["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0]) and losses[0] > 0
    model = keras.models.load_model(tmp_path / "fit.keras")
    x = np.zeros((1, 64, 64, 3), np.float32)
    assert model([x]).shape == (1, 16, 16, 17)
    assert danet_tf  # the layers are registered
