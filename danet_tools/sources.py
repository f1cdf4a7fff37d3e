"""From file names to what ``export_model`` takes: the source model, crops, keypoint names.

Used by the thin tools (``tools/export.py``, ``tools/benchmark.py``, ``tools/demo.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from danet_tf.codec import HeatmapCodec, KeypointInfo
from danet_tf.data.calibration import CropSet, person_crops


def default_calibration() -> tuple[Path, Path] | None:
    """``$DANET_DATA/coco_sample`` train annotations and images, when that data is present."""
    root = Path(
        os.environ.get("DANET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    ann = root / "coco_sample" / "train.json"
    return (ann, root / "coco_sample" / "images") if ann.is_file() else None


def model_file(name: str | None, weights: str | Path | None) -> str | None:
    """The ``.keras`` file a ``--model``/``--weights`` pair loads from (it records the codec the
    model was trained with), or None for a model built from the registry."""
    from danet_tf.models.loading import is_model_file

    if weights is not None:
        return str(weights)
    return name if name is not None and is_model_file(name) else None


def load_source_model(
    name: str | None,
    weights: str | Path | None = None,
    input_size: tuple[int, int] | None = None,
    num_keypoints: int = 17,
) -> Any:
    """The single-output Keras model to export (:func:`danet_tf.models.resolve_model`)."""
    from danet_tf.models import inference_model
    from danet_tf.models.loading import is_model_file, resolve_model

    model = resolve_model(name, weights, input_size=input_size, num_keypoints=num_keypoints)
    if weights is None and not (name and is_model_file(name)):
        print(f"export: no --weights: {name} has random weights (pipeline checks only)")
    return inference_model(model)


def crops_for(
    codec: HeatmapCodec,
    annotations: str | Path | None,
    images_dir: str | Path | None,
    count: int = 200,
) -> CropSet:
    """Real person crops cut by the model's ``codec`` (`danet_tf.export.api.model_codec`);
    defaults to ``$DANET_DATA/coco_sample``."""
    if annotations is None:
        found = default_calibration()
        if found is None:
            raise FileNotFoundError(
                "no calibration data: pass --calib-data ANN.json --images DIR (real person crops "
                "are needed to calibrate int8 and to verify every export), or set DANET_DATA"
            )
        annotations, images_dir = found
    return person_crops(annotations, images_dir, codec, count=count)


def keypoints_for(annotations: str | Path | None, num_keypoints: int) -> KeypointInfo:
    """Keypoint metadata of the annotation file's person category, else COCO-17."""
    if annotations is not None:
        data = json.loads(Path(annotations).read_text(encoding="utf-8"))
        for category in data.get("categories", []):
            if len(category.get("keypoints") or ()) == num_keypoints:
                return KeypointInfo.from_coco_category(category)
    if num_keypoints == 17:
        return KeypointInfo.coco()
    return KeypointInfo(tuple(f"keypoint_{i}" for i in range(num_keypoints)), ())
