"""The model a run leaves: the single-output inference model in float32, the training target
scale divided back out, the run's codec and keypoint layout in its metadata, written
atomically (``final.keras`` at the end, ``best.keras`` at the best epoch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from danet_tf.atomic import atomic_path
from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config

# (model config, num_keypoints) -> multi-scale keras.Model with outputs named as the levels.
ModelBuilder = Callable[[Config, int], keras.Model]


def inference_model(model: keras.Model) -> keras.Model:
    from danet_tf import models

    return models.inference_model(model)


def unscaled_inference_model(model: keras.Model, scale: float, level: str = "heatmaps"
                             ) -> keras.Model:
    """The single-output model with the training ``target_scale`` divided back out.

    The last layer (the ``level`` output) is replaced by a ``Rescaling(1 / scale)`` of the same
    name, so the heatmaps keep the codec's peak of 1 and the output name stays ``level``.
    """
    last = model.get_layer(level)
    if last.weights:
        raise ValueError(f"output layer {level!r} of {model.name!r} has weights; expected a "
                         "weightless (linear activation) output layer to replace")
    out = keras.layers.Rescaling(1.0 / scale, dtype="float32", name=level)(last.input)
    return keras.Model(model.inputs, out, name=model.name)


def write_final(cfg: Config, codec: HeatmapCodec, model: keras.Model, builder: ModelBuilder,
                 inference_fn: Callable[[keras.Model], keras.Model], num_keypoints: int,
                 workdir: Path, name: str = "final.keras", keypoints: Any = None) -> Path:
    """Save the single-output inference model in float32 as ``name`` (atomically)."""
    if any(layer.dtype_policy.name != "float32" for layer in model.layers):
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            fp32 = builder(cfg, num_keypoints)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        fp32.set_weights(model.get_weights())
        model = fp32
    final = workdir / name
    inference = inference_fn(model)
    if cfg.train.target_scale != 1.0:
        inference = unscaled_inference_model(inference, cfg.train.target_scale)
    from danet_tf.export.api import build_metadata
    from danet_tf.export.metadata import embed

    # The run's codec travels with the model: export and evaluation read it back.
    if keypoints is not None and len(keypoints.names) != num_keypoints:
        keypoints = None
    try:
        meta = build_metadata(inference, "keras", "none", None, keypoints, cfg.model.name,
                              codec)  # fmt: skip
    except ValueError:  # not a danet_tf model (no normalize layer): nothing to record
        meta = None
    with atomic_path(final) as tmp:
        inference.save(tmp)
        if meta is not None:
            embed(tmp, "keras", meta)
    return final
