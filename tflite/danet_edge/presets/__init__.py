"""Trained models shipped inside the packages, loadable by name with no network.

The index ``presets.json`` beside this file lists each preset (the default first): its model
row, input size, training data and teacher, complexity, measured accuracy, licence and its
files with their sha256. The ``.tflite`` files (float32 and int8, metadata inside) live here,
in ``danet-edge``; the ``.keras`` file lives in ``danet_tf/presets`` (:func:`danet_tf.load_preset`).

    from danet_edge.presets import list_presets, preset_file
    path = preset_file(list_presets()[0], "int8")       # a verified .tflite path

A file whose sha256 differs from the index is refused by name: a damaged preset never runs.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PRESET_DIR = Path(__file__).resolve().parent
INDEX = PRESET_DIR / "presets.json"
EDGE_KINDS = ("float32", "int8")
MODEL_SUFFIXES = (".tflite", ".onnx", ".keras")


class PresetError(ValueError):
    """An unknown preset name or a preset file that is missing or damaged."""


@lru_cache(maxsize=1)
def _index() -> dict[str, Any]:
    if not INDEX.is_file():
        return {"default": None, "presets": {}}
    index = json.loads(INDEX.read_text())
    names = list(index["presets"])
    if index.get("default") not in names:
        raise PresetError(f"{INDEX}: default {index.get('default')!r} is not one of {names}")
    return index


def list_presets() -> list[str]:
    """The shipped presets' names, the default first."""
    index = _index()
    names = list(index["presets"])
    return sorted(names, key=lambda n: n != index["default"])


def default_preset() -> str | None:
    """The default preset's name (None when none is shipped)."""
    return _index()["default"]


def preset_info(name: str) -> dict[str, Any]:
    """The index entry of preset ``name`` (a copy); unknown names raise naming the known."""
    presets = _index()["presets"]
    if name not in presets:
        raise PresetError(f"unknown preset {name!r}; shipped presets: {list_presets() or 'none'}")
    return json.loads(json.dumps(presets[name]))


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks (the one definition: presets,
    the detector's recorded digest, the install-time fetchers)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checked_file(name: str, kind: str, directory: Path) -> Path:
    """``directory / files[kind].file`` of preset ``name``, its sha256 checked against the index."""
    files = preset_info(name)["files"]
    if kind not in files:
        raise PresetError(f"preset {name!r} has no {kind!r} file; it has {sorted(files)}")
    entry = files[kind]
    path = directory / entry["file"]
    if not path.is_file():
        raise PresetError(f"preset {name!r}: {kind} file {path} is missing from this install")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise PresetError(
            f"preset {name!r}: {path} has sha256 {digest}, the index records {entry['sha256']}: "
            "the file is damaged; reinstall the package"
        )
    return path


def preset_file(name: str, kind: str = "float32") -> Path:
    """The checked ``.tflite`` of preset ``name``: ``kind`` is ``float32`` or ``int8``."""
    if kind not in EDGE_KINDS:
        raise PresetError(f"kind must be one of {EDGE_KINDS}, got {kind!r}")
    return checked_file(name, kind, PRESET_DIR)


def resolve_model(model: str | None, kind: str = "float32") -> Path:
    """A model argument of the commands: an existing file or directory is used as it is; a
    preset name gives that preset's ``kind`` file; None gives the default preset's."""
    if model is None:
        name = default_preset()
        if name is None:
            raise PresetError("no model given and no preset is shipped with this install")
        return preset_file(name, kind)
    path = Path(model)
    if path.exists():
        return path
    if model in _index()["presets"]:
        return preset_file(model, kind)
    if path.suffix.lower() in MODEL_SUFFIXES:
        raise PresetError(f"model file {model} does not exist")
    raise PresetError(
        f"{model!r} is neither a model file nor a preset; shipped presets: "
        f"{list_presets() or 'none'}"
    )


__all__ = [
    "EDGE_KINDS",
    "INDEX",
    "PRESET_DIR",
    "PresetError",
    "checked_file",
    "default_preset",
    "list_presets",
    "preset_file",
    "preset_info",
    "resolve_model",
    "sha256_file",
]


LOW_CONFIDENCE = 0.3


def describe_model(path: str | Path, metadata: dict[str, Any] | None = None) -> str:
    """``preset 'NAME' (what it was trained on)`` for a shipped preset's file, else the file
    and the model row and weights its metadata names."""
    path = Path(path).resolve()
    for name in list_presets():
        files = preset_info(name)["files"]
        if any(path == (PRESET_DIR / files[k]["file"]).resolve() for k in EDGE_KINDS if k in files):
            data = preset_info(name).get("training", {}).get("data", {})
            return f"preset {name!r} (trained on {', '.join(data) or 'real photos'})"
    source = (metadata or {}).get("source") or {}
    parts = [str(source[k]) for k in ("model", "weights") if source.get(k)]
    return f"{path.name}" + (f" ({', '.join(parts)})" if parts else "")


def confidence_note(max_score: float, path: str | Path, metadata=None) -> str | None:
    """A one-line note for stderr when no joint reached :data:`LOW_CONFIDENCE`: the model
    probably does not see people in this input (an untrained or synthetic-data model)."""
    if not max_score < LOW_CONFIDENCE:
        return None
    text = (f"note: {describe_model(path, metadata)} is not confident here: no joint reached "
            f"confidence {LOW_CONFIDENCE} (best {max_score:.2f}); its poses are guesses.")
    default = default_preset()
    if default is not None and not describe_model(path, metadata).startswith("preset"):
        text += (f" The shipped preset {default!r} was trained on real photos: leave out the "
                 "model (or --model " + default + ") to use it.")
    return text


__all__ += ["LOW_CONFIDENCE", "confidence_note", "describe_model"]
