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


def is_model_file(text: str | os.PathLike) -> bool:
    """Whether a ``--model`` value names a file (``.keras``, ``.tflite``, ``.onnx``, a
    SavedModel directory) rather than a registry name."""
    text = os.fspath(text)
    return text.endswith((".keras", ".tflite", ".onnx")) or os.sep in text or os.path.exists(text)


def resolve_model(
    model: str | None = None,
    weights: str | os.PathLike | None = None,
    *,
    input_size: tuple[int, int] | None = None,
    num_keypoints: int = 17,
) -> keras.Model:
    """The one meaning of ``--model``/``--weights`` in every tool.

    ``model`` is a registry name (``danet72``) or a ``.keras`` file. ``weights`` is a
    ``.keras`` file (whose architecture must be ``model`` when both are given) or a
    ``.weights.h5`` file for ``build_model(model)``. A registry name alone builds the model
    with random weights (for pipeline checks and speed).

    Raises:
        ValueError: the values disagree, the name is unknown, or the weights do not fit;
            the message names the file and both architectures.
    """
    from danet_tf.models import build_model, list_models

    if model is not None and is_model_file(model):
        if weights is not None:
            raise ValueError(f"--model {model} is a model file; do not also give --weights {weights}")
        model, weights = None, model
    if weights is not None and os.fspath(weights).endswith(".keras"):
        loaded = load_model(weights)
        if model is not None and loaded.name != model:
            raise ValueError(
                f"{os.fspath(weights)!r} holds a {loaded.name!r} model, not {model!r}: drop "
                f"--model or give the matching name"
            )
        if input_size is not None and tuple(loaded.input_shape[1:3]) != tuple(input_size):
            raise ValueError(
                f"{os.fspath(weights)!r} has input size {tuple(loaded.input_shape[1:3])}, "
                f"not the requested {tuple(input_size)}"
            )
        return loaded
    if model is None:
        raise ValueError("give a registry model name (e.g. --model danet72) or a .keras model file")
    if model not in list_models():
        raise ValueError(f"unknown model {model!r}; registered: {', '.join(list_models())}")
    shape = None if input_size is None else (*input_size, 3)
    built = build_model(model, input_shape=shape, num_keypoints=num_keypoints)
    if weights is not None:
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"weights file {path!r} does not exist")
        try:
            built.load_weights(path)
        except Exception as err:  # h5py and Keras raise many types for a bad file
            raise ValueError(f"cannot load weights {path!r} into {model}: {err}") from None
    return built
