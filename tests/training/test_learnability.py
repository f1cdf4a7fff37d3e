"""A tiny DANet trained briefly on the embedded synthetic data beats its untrained self."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from danet_tf.config import load_config
from danet_tf.training import train
from danet_tf.training.inputs import build_inputs
from danet_tf.training.trainer import default_model_builder, evaluate_pck, run_codec
from tests.harness import REPO

DEMO = REPO / "configs" / "danet_tiny_synthetic-128x96.yaml"


@pytest.mark.slow
def test_tiny_model_learns_the_synthetic_dataset(tmp_path: Path):
    import danet_tf  # noqa: F401  (registers the layers final.keras needs)

    cfg = load_config(DEMO, {
        "runtime.workdir": str(tmp_path / "run"), "runtime.verbose": 0,
        "data.synthetic_dir": str(tmp_path / "synthetic"), "data.synthetic_train_images": 200,
        "train.epochs": 1, "train.steps_per_epoch": 300, "train.val_samples": 64,
    })
    codec = run_codec(cfg)
    inputs = build_inputs(cfg, codec)
    keras.utils.set_random_seed(cfg.runtime.seed)
    untrained = default_model_builder(cfg, inputs.num_keypoints)
    before = evaluate_pck(untrained, inputs, cfg, "heatmaps", codec, alpha=0.1)["val_pck@0.1"]

    result = train(cfg, inputs=inputs)
    trained = keras.models.load_model(result.final_model)
    after = evaluate_pck(trained, inputs, cfg, "heatmaps", codec, alpha=0.1)["val_pck@0.1"]
    print(f"val PCK@0.1: untrained {before:.3f}, trained {after:.3f}")
    assert after > max(3 * before, before + 0.2), (before, after)
