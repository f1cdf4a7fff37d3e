"""Load any artifact as a callable ``crops (N, H, W, 3) float32 -> heatmaps (N, h, w, K)``.

``.keras`` (compiled ``tf.function`` with a fixed signature: no ``model.predict`` overhead),
a SavedModel directory (its ``serving_default`` signature), ``.tflite`` (LiteRT, op resolver
from the metadata) and ``.onnx`` (onnxruntime). Heavy imports happen only for the format used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def artifact_format(path: str | Path) -> str:
    """``keras``, ``savedmodel``, ``tflite`` or ``onnx`` from the path; raises otherwise."""
    path = Path(path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ValueError(f"{path} is a directory without saved_model.pb")
    formats = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}
    if path.suffix not in formats:
        raise ValueError(
            f"unknown artifact {path}; expected .keras, .tflite, .onnx or a SavedModel"
        )
    return formats[path.suffix]


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
    """Load a ``.keras`` DANet model (registers the project's custom layers first)."""
    import keras

    import danet_tf.layers  # noqa: F401  (registers the custom layers for deserialization)

    return keras.saving.load_model(str(path))


def load_predict(
    path: str | Path,
    num_threads: int = 1,
    metadata: Mapping[str, Any] | None = None,
    xnnpack: bool | None = None,
) -> Predict:
    """A predict callable for any artifact format."""
    fmt = artifact_format(path)
    if fmt == "tflite":
        from danet_tf.export.litert import LiteRTModel

        return LiteRTModel(path, num_threads, xnnpack, metadata)
    if fmt == "onnx":
        return _onnx_predict(path, num_threads)
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


def _onnx_predict(path: str | Path, num_threads: int) -> Predict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(crops: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.asarray(crops, np.float32)})[0]

    return predict
