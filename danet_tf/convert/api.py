"""Checkpoint -> verified ``.keras`` file that records where its weights came from."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_tf.atomic import atomic_path
from danet_tf.convert.megengine import BGR_MEAN, BGR_STD, convert_with_source
from danet_tf.models.loading import SOURCE_MEMBER


@dataclass
class Conversion:
    """What :func:`convert_checkpoint` wrote and checked."""

    path: Path
    model_name: str
    source: dict[str, Any]
    reload_max_abs_diff: float
    params: int


def _probe(model: keras.Model) -> np.ndarray:
    """A deterministic RGB batch: mid-grey plus noise, in the model's input size."""
    h, w = model.input_shape[1:3]
    rng = np.random.default_rng(0)
    return np.clip(128 + 60 * rng.standard_normal((2, h, w, 3)), 0, 255).astype(np.float32)


def _outputs(model: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    out = model(x, training=False)
    items = [out[k] for k in sorted(out)] if isinstance(out, dict) else [out]
    return [np.asarray(v) for v in items]


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    *,
    model: str | None = None,
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    multi_scale: bool = False,
    bgr_mean: tuple[float, float, float] = BGR_MEAN,
    bgr_std: tuple[float, float, float] = BGR_STD,
) -> Conversion:
    """Convert ``checkpoint`` and write ``output`` (.keras) atomically, verified.

    The file is written under a temporary name, reloaded with ``keras.models.load_model``
    (safe mode) and run against the in-memory model; only then is it moved into place, so
    a failed conversion leaves nothing behind. The archive records the checkpoint's name,
    sha256 and inferred architecture (:func:`danet_tf.models.read_source`), which exports copy into their
    metadata.
    """
    output = Path(output)
    if output.suffix != ".keras":
        raise ValueError(f"output must be a .keras file, got {str(output)!r}")
    converted, source = convert_with_source(
        checkpoint, model=model, input_size=input_size, multi_scale=multi_scale,
        bgr_mean=bgr_mean, bgr_std=bgr_std,
    )  # fmt: skip
    for weight in converted.weights:
        value = np.asarray(weight.numpy())
        if not np.isfinite(value).all():
            bad = int((~np.isfinite(value)).sum())
            raise ValueError(
                f"{checkpoint}: {bad} non-finite value(s) in {weight.path} {list(value.shape)} "
                "(NaN or inf in the checkpoint); nothing was written"
            )
    x = _probe(converted)
    expected = _outputs(converted, x)
    with atomic_path(output) as tmp:
        converted.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(SOURCE_MEMBER, json.dumps(source, indent=2))
        reloaded = keras.models.load_model(tmp)
        got = _outputs(reloaded, x)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(expected, got, strict=True))
        if diff > 1e-5:
            raise RuntimeError(f"{output}: the reloaded model differs by {diff:.3g}; not written")
    return Conversion(output, converted.name, source, diff, int(converted.count_params()))
