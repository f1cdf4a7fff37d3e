"""Writing the DANet metadata into exported files (reading it is :mod:`danet_edge.metadata`).

Export builds the metadata (``danet_tf.export.api.build_metadata``) and embeds it in the
artifact before the artifact is moved into place, so a model file and its metadata are one
unit: a ``.tflite`` metadata entry, ONNX ``metadata_props``, or a ``danet_metadata.json``
member of a SavedModel directory or ``.keras`` archive. ``write_sidecar`` also writes the
same JSON beside the file, for people who want to read it; no runtime needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from danet_edge.metadata import (
    EMBEDDED_NAME,
    SCHEMA,
    MetadataError,
    embed_member,
    embed_onnx,
    embed_tflite,
    encode,
    read_metadata,
    sidecar_path,
)
from danet_edge.presets import sha256_file as presets_sha256
from danet_tf.atomic import write_bytes_atomic

__all__ = [
    "EMBEDDED_NAME",
    "SCHEMA",
    "MetadataError",
    "embed",
    "read_metadata",
    "sha256_file",
    "sidecar_path",
    "write_sidecar",
]


def sha256_file(path: str | Path | None) -> str | None:
    """Hex sha256 of a file (weights), or None without one (`danet_edge.presets.sha256_file`,
    the one definition)."""
    return None if path is None else presets_sha256(path)


def embed(path: str | Path, fmt: str, metadata: Mapping[str, Any]) -> None:
    """Write ``metadata`` into the (not yet published) artifact at ``path``, in place."""
    path = Path(path)
    if fmt == "tflite":
        path.write_bytes(embed_tflite(path.read_bytes(), metadata))
    elif fmt == "onnx":
        embed_onnx(path, metadata)
    elif fmt in ("savedmodel", "keras"):
        embed_member(path, metadata)
    else:
        raise ValueError(f"cannot embed metadata in a {fmt!r} artifact")


def json_round_trip(value: Any) -> Any:
    """``value`` as it reads back from the embedded JSON (tuples become lists, ...)."""
    import json

    return json.loads(encode({"v": value}))["v"]


def write_sidecar(artifact: str | Path, metadata: Mapping[str, Any]) -> Path:
    """The optional human-readable copy ``<artifact>.json``, written atomically."""
    return write_bytes_atomic(sidecar_path(artifact), encode(metadata))
