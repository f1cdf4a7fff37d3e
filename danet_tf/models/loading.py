"""Loading saved DANet models with errors that say what is wrong."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import keras

# Archive member of a .keras file converted from another framework's checkpoint
# (danet_tf.convert); Keras ignores members it does not know.
SOURCE_MEMBER = "danet_tf_source.json"


def read_source(path: str | os.PathLike) -> dict[str, Any] | None:
    """The provenance a converted ``.keras`` file records (checkpoint name, sha256,
    architecture), or None for a file that records none."""
    try:
        with zipfile.ZipFile(path) as archive:
            if SOURCE_MEMBER not in archive.namelist():
                return None
            return json.loads(archive.read(SOURCE_MEMBER))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def load_model(path: str | os.PathLike, *, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` DANet model saved by this package.

    ``keras.models.load_model`` works too once ``danet_tf`` is imported; this
    function adds checks so that a wrong or damaged file fails with a message naming
    the file and the problem instead of a deserialization traceback.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a complete ``.keras`` archive, or holds a model
            that is not a DANet model (no ``image`` input / ``heatmaps`` output).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if not path.endswith(".keras"):
        raise ValueError(f"{path!r} is not a .keras file (expected the Keras 3 zip format)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"{path!r} is not a valid .keras archive (truncated or corrupt): {err}"
        ) from err
    if damaged is not None:
        raise ValueError(f"{path!r} is corrupt: member {damaged!r} fails its checksum")
    missing = {"config.json", "model.weights.h5"} - names
    if missing:
        raise ValueError(f"{path!r} is not a complete .keras archive: missing {sorted(missing)}")
    try:
        model = keras.models.load_model(path, compile=compile)
    except Exception as err:  # deserialization errors come in many types
        raise ValueError(f"could not load {path!r} as a Keras model: {err}") from err
    input_names = [t.name.split(":")[0] for t in model.inputs]
    has_danet_layer = any(type(layer).__module__.startswith("danet_tf.") for layer in model.layers)
    if input_names != ["image"] or not has_danet_layer:
        raise ValueError(
            f"{path!r} holds a Keras model ({model.name!r}, inputs {input_names}) that is not "
            "a danet_tf model: expected one input named 'image' and danet_tf layers"
        )
    return model
