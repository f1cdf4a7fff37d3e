"""DANet models: the spec table, the builder and model utilities."""

from __future__ import annotations

import keras

from danet_tf.models.builder import (
    DEFAULT_LEVEL_SIGMAS,
    LEVELS,
    build_from_spec,
    input_normalization,
)
from danet_tf.models.complexity import Complexity, count_complexity
from danet_tf.models.flatten import to_functional
from danet_tf.models.loading import load_model, read_source
from danet_tf.models.specs import SPECS, ModelSpec, PaperNumbers, get_spec


def list_models() -> list[str]:
    """Names of every registered model (variants and ablations)."""
    return list(SPECS)


def build_model(
    name: str,
    *,
    input_shape: tuple[int, int, int] | None = None,
    num_keypoints: int = 17,
    multi_scale: bool = False,
    **overrides,
) -> keras.Model:
    """Build a registered model by name.

    Args:
        name: one of :func:`list_models` (e.g. ``"danet72"``).
        input_shape: (H, W, 3); H and W multiples of 32. Defaults to the size the paper
            measures the row at (256x192 for pose models, 224x224 for classifiers).
        num_keypoints: heatmap channels K.
        multi_scale: return every supervised level (a dict keyed by
            :data:`LEVELS`, all upsampled to H/4 x W/4) instead of only the finest.
        **overrides: any :class:`ModelSpec` field, e.g. ``blocks=(2, 2, 2, 2)``.

    Returns:
        A ``keras.Model`` taking float32 RGB images in 0-255, (N, H, W, 3), named
        ``image``, and returning float32 heatmaps (N, H/4, W/4, K) named ``heatmaps``.
    """
    spec = get_spec(name).replace(**overrides) if overrides else get_spec(name)
    if input_shape is None:
        input_shape = (*spec.default_input, 3)
    return build_from_spec(
        spec, input_shape=tuple(input_shape), num_keypoints=num_keypoints,
        multi_scale=multi_scale, name=name,
    )


def inference_model(model: keras.Model) -> keras.Model:
    """The single-output model (finest heatmaps) sharing ``model``'s layers."""
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.input, model.get_layer(LEVELS[-1]).output, name=model.name)


__all__ = [
    "DEFAULT_LEVEL_SIGMAS",
    "LEVELS",
    "SPECS",
    "Complexity",
    "ModelSpec",
    "PaperNumbers",
    "build_model",
    "count_complexity",
    "get_spec",
    "inference_model",
    "input_normalization",
    "list_models",
    "load_model",
    "read_source",
    "to_functional",
]
