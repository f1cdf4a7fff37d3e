"""A tiny DANet exported to float32 TFLite (verified, with metadata) for the edge runtime tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDGE_DIR = REPO / "tflite"


@pytest.fixture(scope="session")
def tiny_keras():
    import danet_tf

    return danet_tf.build_model("danet_tiny", input_shape=(64, 64, 3))


@pytest.fixture(scope="session")
def tiny_tflite(tiny_keras, coco_sample: Path, tmp_path_factory) -> Path:
    from danet_tf.export import export_model, person_crops

    crops = person_crops(coco_sample / "train.json", coco_sample / "images", (64, 64), count=10)
    out = tmp_path_factory.mktemp("edge") / "tiny.tflite"
    export_model(tiny_keras, out, "tflite", crops, model_name="danet_tiny")
    return out


@pytest.fixture(scope="session")
def person_image(coco_sample: Path) -> tuple[Path, list[float]]:
    """A real image and the box of its person with the most labelled keypoints."""
    import json

    data = json.loads((coco_sample / "train.json").read_text())
    ann = max(data["annotations"], key=lambda a: a["num_keypoints"])
    name = next(i["file_name"] for i in data["images"] if i["id"] == ann["image_id"])
    return coco_sample / "images" / name, [float(v) for v in ann["bbox"]]


@pytest.fixture()
def edge(monkeypatch):
    """The edge runtime module ``tflite/pose_estimator.py`` (a script directory, not a package)."""
    import importlib

    monkeypatch.syspath_prepend(str(EDGE_DIR))
    return importlib.import_module("pose_estimator")
