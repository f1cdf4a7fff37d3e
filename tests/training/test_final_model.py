from __future__ import annotations

import keras
import numpy as np
import pytest

from danet_tf.config import load_config
from danet_tf.training.final import unscaled_inference_model
from tests.training.standin import standin_inference, standin_model


def test_unscaled_inference_model_divides_the_scale_out(tmp_path):
    cfg = load_config(None, {"model.input_size": "64x32"})
    model = standin_inference(standin_model(cfg, 3))
    unscaled = unscaled_inference_model(model, 50.0)
    assert unscaled.output_names == ["heatmaps"]
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(unscaled([x])) * 50.0, np.asarray(model(x)), rtol=1e-5,
                               atol=1e-6)
    unscaled.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again([x])), np.asarray(unscaled([x])), rtol=1e-6)


def test_unscaled_needs_a_weightless_output_layer():
    image = keras.Input((8, 8, 3))
    model = keras.Model(image, keras.layers.Conv2D(2, 1, name="heatmaps")(image))
    with pytest.raises(ValueError, match="has weights"):
        unscaled_inference_model(model, 2.0)
