"""Evaluation measures the file a user ships: .tflite (float32, int8) and .onnx, through the
same predictor and runners as the device."""

from __future__ import annotations

import numpy as np
import pytest

from danet_tf.evaluation import evaluate_topdown, load_eval_model

SIZE = (64, 64)  # the session's tiny model (tests/conftest.py)


@pytest.fixture(scope="module")
def artifacts(tiny_export):
    """name -> the session's shared exports of the tiny model (and its .keras file)."""
    return {"tiny.keras": tiny_export("keras").path, "tiny.tflite": tiny_export("tflite").path,
            "tiny.onnx": tiny_export("onnx").path,
            "tiny_int8.tflite": tiny_export("tflite", "int8").path}


def _results(path, coco_sample):
    m = load_eval_model(None, path)
    report = evaluate_topdown(m.predict_fn, coco_sample / "val4.json", num_keypoints=17,
                              codec=m.codec,
                              nms_threshold=None, progress=False)  # fmt: skip
    kps = np.array([r["keypoints"] for r in report.results], np.float64).reshape(-1, 17, 3)
    return report, kps


def test_tflite_and_onnx_evaluate_like_the_keras_model(artifacts, coco_sample):
    keras_report, keras_kps = _results(artifacts["tiny.keras"], coco_sample)
    for name in ("tiny.tflite", "tiny.onnx"):
        report, kps = _results(artifacts[name], coco_sample)
        assert report.num_persons == keras_report.num_persons > 0
        # Same persons, same order; float32 artifacts put the joints where Keras does.
        assert np.median(np.abs(kps[..., :2] - keras_kps[..., :2])) < 0.5, name
        assert report.metrics["AP"] == pytest.approx(keras_report.metrics["AP"], abs=0.05), name


def test_int8_file_is_evaluated_and_its_metadata_sizes_the_crops(artifacts, coco_sample):
    m = load_eval_model(None, artifacts["tiny_int8.tflite"])
    assert m.input_size == SIZE and m.heatmap_size == (16, 16) and m.num_keypoints == 17
    report, kps = _results(artifacts["tiny_int8.tflite"], coco_sample)
    assert report.num_persons > 0 and np.isfinite(kps).all()
    with pytest.raises(ValueError, match="has input size 64x64, not the requested 256x192"):
        load_eval_model(None, artifacts["tiny_int8.tflite"], input_size=(256, 192))
