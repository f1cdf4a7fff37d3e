"""Verified exports: .keras, SavedModel, TFLite (float32, fp16, dynamic, int8, QAT) and ONNX.

``export_model`` converts, verifies the artifact on real person crops against the Keras
model, and embeds the metadata the runtimes read in the artifact. The runtime side (the
top-down predictor, the runners, metadata reading) is the TensorFlow-free ``danet_edge``
distribution; the names below load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "export_model": "danet_tf.export.api",
    "ExportResult": "danet_tf.export.api",
    "FORMATS": "danet_tf.export.api",
    "Bounds": "danet_tf.export.verify",
    "BOUNDS": "danet_tf.export.verify",
    "ExportVerificationError": "danet_tf.export.verify",
    "CropSet": "danet_tf.data.calibration",
    "person_crops": "danet_tf.data.calibration",
    "read_metadata": "danet_tf.export.metadata",
    "load_predict": "danet_tf.export.runners",
    "TopDownPredictor": "danet_edge.topdown",
    "load_topdown": "danet_tf.export.runners",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'danet_tf.export' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
