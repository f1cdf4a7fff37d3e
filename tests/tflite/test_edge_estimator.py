"""The edge estimator: image + boxes -> keypoints in image pixels, driven by the metadata."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

EDGE_DIR = Path(__file__).resolve().parents[2] / "tflite"


def test_keypoints_match_keras_in_image_pixels(edge, tiny_tflite, tiny_keras, person_image):
    from danet_tf.export.runners import keras_predict
    from danet_tf.export.topdown import PoseEstimator

    image_path, box = person_image
    image = cv2.imread(str(image_path))
    estimator = edge.TFLitePoseEstimator(tiny_tflite, num_threads=2)
    poses = estimator(image, [box, [0, 0, 50, 80]])
    assert poses.keypoints.shape == (2, 17, 2) and poses.scores.shape == (2, 17)
    reference = PoseEstimator(keras_predict(tiny_keras), estimator.metadata)(
        image, [box, [0, 0, 50, 80]]
    )
    np.testing.assert_allclose(poses.keypoints, reference.keypoints, atol=0.5)
    # Keypoints are in image pixels: inside the padded box region, not the 64x64 crop.
    x, y, w, h = box
    assert np.all(poses.keypoints[0, :, 0] > x - w) and np.all(poses.keypoints[0, :, 0] < x + 2 * w)
    assert set(poses.timings_ms) == {"preprocess", "model", "postprocess"}


def test_whole_image_without_boxes(edge, tiny_tflite, person_image):
    image = cv2.imread(str(person_image[0]))
    poses = edge.TFLitePoseEstimator(tiny_tflite)(image)
    np.testing.assert_array_equal(poses.boxes, [[0, 0, image.shape[1], image.shape[0]]])


def test_op_resolver_follows_metadata(edge, tiny_tflite, tmp_path):
    model = tmp_path / "m.tflite"
    shutil.copy(tiny_tflite, model)
    meta = json.loads((tiny_tflite.parent / "tiny.tflite.json").read_text())
    for xnnpack in (False, True):
        meta["runtime"]["xnnpack"] = xnnpack
        (tmp_path / "m.tflite.json").write_text(json.dumps(meta))
        estimator = edge.TFLitePoseEstimator(model)
        assert estimator.uses_xnnpack is xnnpack
        assert ("XNNPACK" in estimator.describe()["op_resolver"]) is xnnpack
    assert edge.TFLitePoseEstimator(model, xnnpack=False).uses_xnnpack is False


def test_missing_metadata_and_bad_input(edge, tiny_tflite, tmp_path):
    lonely = tmp_path / "lonely.tflite"
    shutil.copy(tiny_tflite, lonely)
    with pytest.raises(FileNotFoundError, match="no metadata"):
        edge.TFLitePoseEstimator(lonely)
    estimator = edge.TFLitePoseEstimator(tiny_tflite)
    with pytest.raises(ValueError, match="image must be"):
        estimator(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="boxes must be"):
        estimator(np.zeros((10, 10, 3), np.uint8), [[1, 2, 3]])


def test_cli_rejects_bad_box(tiny_tflite, person_image):
    out = subprocess.run(
        [sys.executable, str(EDGE_DIR / "estimate.py"), str(tiny_tflite), str(person_image[0]),
         "--box", "1,2,-3,4"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "box must be x,y,w,h" in out.stderr
