"""Make a shipped preset from a trained ``.keras``: the files, their verification, the numbers.

``danet-make-preset`` (``tools/make_preset.py``) runs :func:`make_preset`:

1. copies the ``.keras`` (the codec of its training run inside) to ``danet_tf/presets``;
2. exports float32 and int8 ``.tflite`` files (``int8_mode``: full integer, or int8 with
   float fallbacks such as ``int8-float-ew``) into ``danet_edge/presets`` with
   :func:`danet_tf.export.export_model` (each verified against the Keras model before it is
   written; int8 calibrated on training crops, verified on held-out crops);
3. measures what the README's preset table reports: OKS AP with ground-truth boxes on the
   COCO ``val4`` persons (Keras, float32 and int8 files) and on the held-out set, AP with the
   shipped person detector on whole ``val4`` images, int8 against float32 agreement (mean
   OKS of the keypoints, one pass and with the flip test), parameters, GMACs, file sizes;
4. writes the entry into ``danet_edge/presets/presets.json`` with every file's sha256.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from danet_edge.presets import INDEX, PRESET_DIR, sha256_file
from danet_tf.presets import KERAS_DIR


@dataclass
class PresetSpec:
    name: str
    keras: Path
    data_root: Path  # file_name of every json below is relative to it
    calibration: Path  # training json: int8 calibration crops
    holdout: Path  # held-out json (never trained on)
    val4: Path  # COCO val4 json
    val4_images: Path
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    calib_count: int = 200
    verify_count: int = 100
    default: bool = True
    int8_mode: str = "int8"  # export_model's quantize for the int8 file: int8, int8-float-ew...

    def __post_init__(self) -> None:
        if not self.int8_mode.startswith("int8"):
            raise ValueError(f"int8_mode must be one of the int8 quantize modes, got {self.int8_mode!r}")


def _file_entry(path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _ap(model_path: Path, ann: Path, images: Path, detector=None, flip: bool = True) -> float:
    from danet_tf.evaluation import evaluate_topdown, load_eval_model

    m = load_eval_model(None, model_path)
    report = evaluate_topdown(
        m.predict_fn, ann, images, codec=m.codec, num_keypoints=m.num_keypoints,
        detector=detector, flip=flip, progress=False,
    )
    return round(float(report.metrics["AP"]), 4)


def int8_agreement(float_path: Path, int8_path: Path, crops, codec) -> dict[str, float]:
    """Mean OKS of the int8 file's keypoints against the float32 file's, on ``crops``:
    one pass and with the flip test (both files flip-tested alike)."""
    from danet_edge.codec import COCO_FLIP_PAIRS
    from danet_edge.codec.flip import fuse_flip
    from danet_tf.export.metadata import read_metadata
    from danet_tf.export.runners import load_predict
    from danet_tf.export.verify import keypoint_agreement

    def heatmaps(path: Path, flip: bool) -> np.ndarray:
        predict = load_predict(path, 1, read_metadata(path))
        out = np.concatenate([predict(c[None]) for c in crops.images])
        if not flip:
            return out
        mirrored = np.concatenate([predict(c[None, :, ::-1]) for c in crops.images])
        return fuse_flip(out, mirrored, COCO_FLIP_PAIRS)

    result = {}
    for flip in (False, True):
        _, oks = keypoint_agreement(
            heatmaps(float_path, flip), heatmaps(int8_path, flip), crops, codec
        )
        result["flip_test" if flip else "one_pass"] = round(float(np.mean(oks)), 4)
    return result


def make_preset(spec: PresetSpec) -> dict[str, Any]:
    from danet_edge.detector import PersonDetector
    from danet_tf.data.calibration import person_crops
    from danet_tf.export.api import export_model, recorded_codec
    from danet_tf.models import load_model
    from danet_tf.models.complexity import count_complexity

    started = time.perf_counter()
    KERAS_DIR.mkdir(parents=True, exist_ok=True)
    keras_path = KERAS_DIR / f"{spec.name}.keras"
    if spec.keras.resolve() != keras_path.resolve():
        shutil.copyfile(spec.keras, keras_path)
    model = load_model(keras_path)
    codec = recorded_codec(keras_path)
    if codec is None:
        raise ValueError(f"{spec.keras} records no codec: use a training run's final/best.keras")
    calib = person_crops(spec.calibration, spec.data_root, codec, spec.calib_count)
    verify = person_crops(spec.holdout, spec.data_root, codec, spec.verify_count)
    files = {"keras": keras_path}
    for kind, quantize in (("float32", "none"), ("int8", spec.int8_mode)):
        out = PRESET_DIR / f"{spec.name}{'' if kind == 'float32' else '_int8'}.tflite"
        export_model(model, out, "tflite", verify, quantize=quantize,
                     calibration=calib if kind == "int8" else None, weights_path=keras_path,
                     model_name=spec.name, codec=codec)  # fmt: skip
        files[kind] = out
    detector = PersonDetector()
    accuracy = {
        "val4_gt_boxes_ap": {k: _ap(p, spec.val4, spec.val4_images) for k, p in files.items()},
        "holdout_gt_boxes_ap": {
            k: _ap(p, spec.holdout, spec.data_root) for k, p in files.items()
        },
        "val4_detector_ap": {
            k: _ap(p, spec.val4, spec.val4_images, detector) for k, p in files.items()
            if k != "keras"
        },
        "int8_agreement_mean_oks": int8_agreement(files["float32"], files["int8"], verify, codec),
    }
    counts = count_complexity(model)
    entry = {
        "description": spec.description,
        "model": spec.training.get("model"),
        "input_size": list(codec.input_size),
        "heatmap_size": list(codec.heatmap_size),
        "params_m": round(counts.params / 1e6, 3),
        "gmacs": round(counts.macs / 1e9, 3),
        "training": spec.training,
        "accuracy": accuracy,
        "accuracy_protocol": f"OKS AP (pycocotools), flip test, {codec.decode_mode} decode; "
        "ground-truth boxes, or the shipped NanoDet person detector on whole images",
        "licence": spec.licence,
        "int8_mode": spec.int8_mode,
        "files": {k: _file_entry(p) for k, p in files.items()},
        "seconds_to_make": round(time.perf_counter() - started),
    }
    index = json.loads(INDEX.read_text()) if INDEX.is_file() else {"presets": {}}
    index["presets"][spec.name] = entry
    if spec.default or not index.get("default"):
        index["default"] = spec.name
    INDEX.write_text(json.dumps(index, indent=1) + "\n")
    from danet_edge.presets import _index

    _index.cache_clear()
    return entry


__all__ = ["PresetSpec", "int8_agreement", "make_preset"]
