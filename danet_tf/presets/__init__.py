"""The shipped presets as Keras models: ``danet_tf.list_presets()``, ``danet_tf.load_preset()``.

The index and the ``.tflite`` files are in the edge distribution (:mod:`danet_edge.presets`);
the ``.keras`` file of each preset lives beside this module, sha256 checked on load.
"""

from __future__ import annotations

from pathlib import Path

from danet_edge.presets import (
    PresetError,
    checked_file,
    default_preset,
    list_presets,
    preset_info,
)

KERAS_DIR = Path(__file__).resolve().parent


def preset_keras_file(name: str) -> Path:
    """The checked ``.keras`` file of preset ``name``."""
    return checked_file(name, "keras", KERAS_DIR)


def load_preset(name: str | None = None):
    """Preset ``name`` (default: the default preset) as a Keras model: RGB 0-255 crops of its
    input size in, heatmaps out, the codec in its metadata (``danet_tf.load_model``)."""
    from danet_tf.models import load_model

    name = name or default_preset()
    if name is None:
        raise PresetError("no preset is shipped with this install")
    return load_model(preset_keras_file(name))


__all__ = [
    "PresetError",
    "default_preset",
    "list_presets",
    "load_preset",
    "preset_info",
    "preset_keras_file",
]
