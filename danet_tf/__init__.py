"""danet_tf: DANet human pose estimation in TensorFlow / Keras 3.

``import danet_tf`` registers the custom layers (so ``keras.models.load_model`` can
read saved DANet models) and exposes :func:`build_model` / :func:`list_models`.

The numpy-only parts (``danet_tf.codec``) must stay importable on an edge device
without TensorFlow: when Keras/TensorFlow cannot be imported, this package still
imports, and the model functions raise an error that says why.
"""

from __future__ import annotations

__version__ = "0.1.0"

try:
    import keras  # noqa: F401
except ImportError as _err:  # edge devices: only the numpy codec is available
    _KERAS_ERROR: ImportError | None = _err
else:
    _KERAS_ERROR = None
    from danet_tf import layers  # noqa: F401  (registers the custom layers)
    from danet_tf.models import build_model, list_models, load_model
    from danet_tf.presets import list_presets, load_preset

    __all__ = [
        "build_model",
        "list_models",
        "list_presets",
        "load_model",
        "load_preset",
        "__version__",
    ]


def __getattr__(name: str):
    if _KERAS_ERROR is not None and name in {
        "build_model", "list_models", "load_model", "load_preset", "list_presets"
    }:
        raise ImportError(
            f"danet_tf.{name} needs Keras 3 and TensorFlow, which failed to import "
            f"({_KERAS_ERROR}); on edge devices use danet_tf.codec and tflite/"
        )
    raise AttributeError(f"module 'danet_tf' has no attribute {name!r}")
