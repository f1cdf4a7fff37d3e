"""The json file written beside every artifact (``<artifact>.json``) and read by the runtimes.

Plain json, no TensorFlow: the edge runtime reads it. Fields (``SCHEMA`` names the version):

- ``input``: name, size (h, w), layout, dtype, value range, color order, normalization done
  inside the graph (mean/std on the 0-255 scale, RGB);
- ``output``: name, heatmap size (h, w), stride;
- ``keypoints``: names, flip pairs, skeleton, OKS sigmas;
- ``codec``: the decode settings (mode, sigma, box padding, aspect ratio);
- ``quantization``: mode and the tensor dtypes;
- ``source``: the model name and the sha256 of the source weights file; for a model
  converted from the authors' checkpoint, ``converted_from`` names that checkpoint and its
  sha256;
- ``runtime``: for TFLite, the recommended op resolver (``xnnpack``: false means
  ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``) and why;
- ``verification``: the numbers measured against the Keras model when it was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from danet_tf.export.atomic import write_bytes_atomic

SCHEMA = "danet_tf.export/1"


def metadata_path(artifact: str | Path) -> Path:
    """``model.tflite`` -> ``model.tflite.json``; a SavedModel dir ``sm/`` -> ``sm.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name.rstrip("/") + ".json")


def sha256_file(path: str | Path | None) -> str | None:
    """Hex sha256 of a file (weights), or None without one."""
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_metadata(artifact: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Write ``metadata`` atomically beside ``artifact``; returns the json path."""
    path = metadata_path(artifact)
    text = json.dumps(dict(metadata), indent=2, sort_keys=False, default=_to_json)
    return write_bytes_atomic(path, text.encode("utf-8"))


def read_metadata(artifact: str | Path) -> dict[str, Any]:
    """Read and check the metadata of ``artifact``; raises naming what is missing."""
    path = metadata_path(artifact)
    if not path.is_file():
        raise FileNotFoundError(
            f"no metadata {path} beside {artifact}; export it with danet_tf.export (tools/export.py)"
        )
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {meta.get('schema')!r}, expected {SCHEMA!r}")
    for key in ("input", "output", "keypoints", "codec"):
        if key not in meta:
            raise ValueError(f"{path}: metadata has no {key!r} section")
    return meta


def _to_json(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to metadata json")
