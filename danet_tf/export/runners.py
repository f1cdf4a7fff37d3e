"""Load any artifact as a callable ``crops (N, H, W, 3) float32 -> heatmaps (N, h, w, K)``.

``.tflite`` and ``.onnx`` run through the edge distribution's runners (``danet_edge.runners``);
this module adds what needs TensorFlow: ``.keras`` (a compiled ``tf.function`` with a fixed
signature: no ``model.predict`` overhead) and SavedModel directories (``serving_default``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from danet_edge.runners import Predict, artifact_format, load_edge_model

__all__ = ["Predict", "artifact_format", "keras_predict", "load_keras", "load_predict"]


def keras_predict(model: Any, batch: int | None = None) -> Predict:
    """A compiled ``tf.function`` around a Keras model with a fixed input signature."""
    import tensorflow as tf

    h, w, c = model.input_shape[1:]
    fn = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((batch, h, w, c), tf.float32)],
        jit_compile=False,
    )

    def predict(crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, np.float32)
        if batch is None:
            return fn(crops).numpy()
        return np.concatenate(
            [fn(crops[i : i + batch]).numpy() for i in range(0, len(crops), batch)]
        )

    return predict


def load_keras(path: str | Path) -> Any:
    """Load a ``.keras`` DANet model with :func:`danet_tf.models.load_model`'s checks."""
    from danet_tf.models import load_model

    return load_model(path)


def load_predict(
    path: str | Path,
    num_threads: int = 1,
    metadata: Mapping[str, Any] | None = None,
    xnnpack: bool | None = None,
) -> Predict:
    """A predict callable for any artifact format."""
    fmt = artifact_format(path)
    if fmt in ("tflite", "onnx"):
        return load_edge_model(path, num_threads, xnnpack, metadata)
    # TensorFlow fixes its thread pools when it starts: the benchmark sets them per process.
    import tensorflow as tf

    if fmt == "keras":
        return keras_predict(load_keras(path), batch=1)
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    ((name, spec),) = signature.structured_input_signature[1].items()
    batch = spec.shape[0]

    def predict(crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, np.float32)
        step = batch or len(crops)
        outs = [
            signature(**{name: tf.constant(crops[i : i + step])})
            for i in range(0, len(crops), step)
        ]
        return np.concatenate([o["heatmaps"].numpy() for o in outs])

    return predict


def load_topdown(
    path: str | Path,
    num_threads: int = 1,
    xnnpack: bool | None = None,
    **kwargs: Any,
) -> Any:
    """The :class:`danet_edge.topdown.TopDownPredictor` of any artifact: ``.tflite``,
    ``.onnx``, SavedModel or ``.keras``.

    Exported files carry their metadata; a ``.keras`` file without it (a training run's
    ``final.keras``) gets the metadata export would write for it. ``kwargs`` go to the
    predictor (``flip_test``, ``decode_mode``, ``detector``, ...).
    """
    from danet_edge.metadata import MetadataError, read_metadata
    from danet_edge.topdown import TopDownPredictor, warn_if_unverified

    fmt = artifact_format(path)
    if fmt in ("tflite", "onnx"):
        return TopDownPredictor.from_file(path, num_threads, xnnpack, **kwargs)
    if fmt == "keras":
        model = load_keras(path)
        try:
            meta = read_metadata(path)
        except MetadataError:
            from danet_tf.export.api import build_metadata

            meta = build_metadata(model, "keras", "none", path, None, None)
        return TopDownPredictor.from_metadata(keras_predict(model, batch=None), meta, **kwargs)
    meta = read_metadata(path)
    warn_if_unverified(meta, path)
    return TopDownPredictor.from_metadata(load_predict(path, num_threads, meta), meta, **kwargs)
