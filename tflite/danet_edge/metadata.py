"""DANet metadata: written into the exported file itself, read back by every runtime.

An exported model is useless without knowing its input size, normalisation, keypoints, flip
pairs and decoder settings, so export embeds them (plain JSON, ``SCHEMA``) in the artifact:

- ``.tflite``: a TFLite metadata entry named ``EMBEDDED_NAME`` (the flatbuffer's
  ``metadata`` list, pointing at a buffer holding the JSON);
- ``.onnx``: the model's ``metadata_props`` under the key ``EMBEDDED_NAME``;
- SavedModel directory and ``.keras`` archive: a ``danet_metadata.json`` member.

A JSON file beside the artifact (``model.tflite.json``) is still read when a file has no
embedded metadata (older exports), but it is optional. Reading needs neither TensorFlow nor
ONNX: the TFLite flatbuffer is read with the schema ``ai_edge_litert`` ships, the ONNX
protobuf with a few lines of wire-format parsing.

Sections: ``input`` (name, size, layout, dtype, range, color, normalisation done in the
graph), ``output`` (heatmap size, stride), ``keypoints`` (names, flip pairs, skeleton, OKS
sigmas), ``codec`` (:meth:`danet_edge.codec.HeatmapCodec.to_dict`), ``quantization``,
``source`` (model name, weights hash, provenance), ``runtime`` (the recommended TFLite op
resolver) and ``verification`` (what export measured against the Keras model, and whether
the artifact passed).
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA = "danet_tf.export/2"
READABLE_SCHEMAS = (SCHEMA,)
EMBEDDED_NAME = "danet_tf.metadata"
MEMBER = "danet_metadata.json"  # inside a SavedModel directory or a .keras archive
REQUIRED = ("input", "output", "keypoints", "codec")


class MetadataError(ValueError):
    """A model file has no DANet metadata, or metadata that cannot be used."""


def sidecar_path(artifact: str | Path) -> Path:
    """``model.tflite`` -> ``model.tflite.json``; a SavedModel dir ``sm/`` -> ``sm.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name.rstrip("/") + ".json")


def encode(metadata: Mapping[str, Any]) -> bytes:
    """Strict JSON bytes (no NaN or Infinity) of a metadata mapping."""
    try:
        text = json.dumps(dict(metadata), indent=1, allow_nan=False, default=_to_json)
    except ValueError as err:
        raise MetadataError(f"metadata holds a non-finite number: {err}") from None
    return text.encode("utf-8")


def read_metadata(artifact: str | Path) -> dict[str, Any]:
    """The checked DANet metadata of ``artifact``: embedded, else the sidecar JSON.

    Raises:
        FileNotFoundError: ``artifact`` does not exist.
        MetadataError: there is no DANet metadata (a model of another origin), or it is
            damaged or incomplete; the message says what is missing and where it looked.
    """
    artifact = Path(artifact)
    if not artifact.exists():
        raise FileNotFoundError(f"model file {artifact} does not exist")
    raw, where = read_embedded(artifact), f"{artifact} (embedded)"
    if raw is None:
        sidecar = sidecar_path(artifact)
        if not sidecar.is_file():
            raise MetadataError(
                f"{artifact} has no DANet metadata: no '{EMBEDDED_NAME}' entry in the file and "
                f"no {sidecar.name} beside it. The runtime needs the input size, normalisation, "
                "keypoint names, flip pairs and decoder settings that danet_tf's export "
                "(danet-export / tools/export.py) writes into the file."
            )
        raw, where = sidecar.read_bytes(), str(sidecar)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MetadataError(f"{where}: DANet metadata is not valid JSON ({err})") from None
    return check_metadata(meta, where)


def check_metadata(meta: Any, where: str = "metadata") -> dict[str, Any]:
    """``meta`` if it is usable DANet metadata; raises :class:`MetadataError` naming the gap."""
    if not isinstance(meta, dict):
        raise MetadataError(
            f"{where}: DANet metadata must be a JSON object, got {type(meta).__name__}"
        )
    if meta.get("schema") not in READABLE_SCHEMAS:
        raise MetadataError(
            f"{where}: metadata schema {meta.get('schema')!r}; this runtime reads "
            f"{', '.join(READABLE_SCHEMAS)}"
        )
    missing = [key for key in REQUIRED if not isinstance(meta.get(key), dict)]
    if missing:
        raise MetadataError(f"{where}: metadata has no {', '.join(map(repr, missing))} section")
    for section, key in (("input", "size"), ("output", "size"), ("keypoints", "names")):
        if key not in meta[section]:
            raise MetadataError(f"{where}: metadata section {section!r} has no {key!r}")
    size = meta["input"]["size"]
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise MetadataError(f"{where}: input.size must be [height, width], got {size!r}")
    out_size = meta["output"]["size"]
    if not (isinstance(out_size, list) and len(out_size) == 2
            and all(isinstance(v, int) and v > 0 for v in out_size)):  # fmt: skip
        raise MetadataError(f"{where}: output.size must be [height, width] > 0, got {out_size!r}")
    norm = meta["input"].get("normalization") or {}
    for key in ("mean", "std"):
        values = norm.get(key)
        if values is None:
            continue
        if not (isinstance(values, list) and len(values) == 3
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)
                and (key == "mean" or min(values) > 0)):  # fmt: skip
            raise MetadataError(
                f"{where}: input.normalization.{key} must be 3 finite numbers"
                f"{' > 0' if key == 'std' else ''}, got {values!r}"
            )
    k = len(meta["keypoints"]["names"])
    pairs = meta["keypoints"].get("flip_pairs") or []
    flat = [j for pair in pairs for j in (pair if isinstance(pair, list) else [pair])]
    if (any(not isinstance(p, list) or len(p) != 2 for p in pairs)
            or any(not isinstance(j, int) or not 0 <= j < k for j in flat)
            or len(set(flat)) != len(flat)):  # fmt: skip
        raise MetadataError(
            f"{where}: keypoints.flip_pairs {pairs!r} must pair distinct joints of 0..{k - 1}, "
            "each joint at most once"
        )
    return meta


def read_embedded(artifact: str | Path) -> bytes | None:
    """The embedded metadata bytes of a ``.tflite``, ``.onnx``, ``.keras`` or SavedModel, or
    None when the file carries none. Raises :class:`MetadataError` for a damaged file."""
    artifact = Path(artifact)
    if artifact.is_dir():
        member = artifact / MEMBER
        return member.read_bytes() if member.is_file() else None
    suffix = artifact.suffix.lower()
    data = artifact.read_bytes()
    if suffix == ".tflite":
        return _tflite_metadata(data, artifact)
    if suffix == ".onnx":
        return _onnx_metadata(data, artifact)
    if suffix == ".keras":
        try:
            with zipfile.ZipFile(artifact) as archive:
                return archive.read(MEMBER) if MEMBER in archive.namelist() else None
        except zipfile.BadZipFile:
            raise MetadataError(f"{artifact} is not a complete .keras archive") from None
    return None


def embed_tflite(data: bytes, metadata: Mapping[str, Any]) -> bytes:
    """TFLite flatbuffer ``data`` with ``metadata`` as its ``EMBEDDED_NAME`` entry (replacing
    an earlier one). The graph, tensors and weights are unchanged."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    _check_tflite_identifier(data, "model")
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    model.buffers = list(model.buffers or [])
    model.metadata = list(model.metadata or [])
    entry = next((m for m in model.metadata if _name(m.name) == EMBEDDED_NAME), None)
    if entry is None:  # a new entry and buffer; a second export reuses them
        entry = schema.MetadataT()
        entry.name = EMBEDDED_NAME
        entry.buffer = len(model.buffers)
        model.buffers.append(schema.BufferT())
        model.metadata.append(entry)
    model.buffers[entry.buffer].data = np.frombuffer(encode(metadata), np.uint8)
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def embed_onnx(path: str | Path, metadata: Mapping[str, Any]) -> None:
    """Write ``metadata`` into the ONNX file's ``metadata_props`` (needs the ``onnx`` package,
    which export has)."""
    import onnx

    model = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key != EMBEDDED_NAME]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    model.metadata_props.add(key=EMBEDDED_NAME, value=encode(metadata).decode("utf-8"))
    onnx.save(model, str(path))


def embed_member(path: str | Path, metadata: Mapping[str, Any]) -> None:
    """Add ``MEMBER`` to a SavedModel directory or a ``.keras`` archive."""
    path = Path(path)
    if path.is_dir():
        (path / MEMBER).write_bytes(encode(metadata))
        return
    with zipfile.ZipFile(path, "a") as archive:
        if MEMBER in archive.namelist():
            raise MetadataError(f"{path} already holds {MEMBER}")
        archive.writestr(MEMBER, encode(metadata))


def _name(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _check_tflite_identifier(data: bytes, what: Any) -> None:
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise MetadataError(f"{what} is not a TFLite flatbuffer (no TFL3 identifier)")


def _tflite_metadata(data: bytes, artifact: Path) -> bytes | None:
    from ai_edge_litert import schema_py_generated as schema

    _check_tflite_identifier(data, artifact)
    try:
        model = schema.Model.GetRootAs(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if _name(entry.Name()) != EMBEDDED_NAME:
                continue
            buffer = model.Buffers(entry.Buffer())
            if buffer.Offset() > 1:  # large-model layout: data after the flatbuffer
                return data[buffer.Offset() : buffer.Offset() + buffer.Size()]
            return buffer.DataAsNumpy().tobytes()
    except (IndexError, ValueError, TypeError, struct.error) as err:  # damaged flatbuffer
        raise MetadataError(f"{artifact} is a damaged TFLite file ({err})") from None
    return None


def _onnx_metadata(data: bytes, artifact: Path) -> bytes | None:
    """``metadata_props`` (ModelProto field 14, StringStringEntryProto key=1 value=2)."""
    found = None
    try:
        for field, value in _protobuf_fields(data):
            if field != 14:
                continue
            entry = dict(_protobuf_fields(value))
            if entry.get(1) == EMBEDDED_NAME.encode():
                found = entry.get(2, b"")
    except (IndexError, ValueError) as err:
        raise MetadataError(f"{artifact} is a damaged ONNX file ({err})") from None
    return found


def _protobuf_fields(data: bytes):
    """(field number, bytes or int) of the top-level fields of a protobuf message."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise ValueError(f"field {field} runs past the end of the file")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unknown protobuf wire type {wire} at byte {pos}")
        yield field, value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def _to_json(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to metadata json")
