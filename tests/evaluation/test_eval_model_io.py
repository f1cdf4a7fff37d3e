"""Model loading helpers and metric selection of evaluate_topdown."""

import json

import numpy as np
import pytest

from danet_edge.codec import HeatmapCodec
from danet_tf.evaluation import evaluate_topdown, load_pose_model, model_io_shapes, parse_size


def test_parse_size():
    assert parse_size("256x192") == (256, 192)
    with pytest.raises(ValueError, match="'256-192'"):
        parse_size("256-192")


def test_model_io_shapes_and_loading_errors(tmp_path):
    import keras

    inp = keras.Input((64, 32, 3), name="image")
    out = keras.layers.Conv2D(5, 4, strides=4, name="heatmaps")(inp)
    model = keras.Model(inp, out)
    assert model_io_shapes(model) == ((64, 32), (16, 8), 5)
    with pytest.raises(ValueError, match="input size 256x192 but the model takes 64x32"):
        model_io_shapes(model, (256, 192))
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_pose_model(None, tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="registry model name .* or a .keras model file"):
        load_pose_model(None, None)


SMALL = HeatmapCodec.for_input((128, 96))


def _zeros(k):
    return lambda batch: np.zeros((len(batch), 32, 24, k), np.float32)


def test_auto_metric_mpii_pckh(mpii_sample):
    report = evaluate_topdown(
        _zeros(16), mpii_sample / "test_mpii.json", num_keypoints=16, codec=SMALL,
        progress=False,
    )  # fmt: skip
    assert report.metric == "pckh" and report.num_persons == 5
    assert "PCKh@0.5/head_top" in report.metrics and "upper_neck" in report.table
    assert report.metrics["PCKh@0.5/mean"] < 0.5  # a blank model misses
    with pytest.raises(ValueError, match="16 keypoints per person but the model outputs 17"):
        evaluate_topdown(_zeros(17), mpii_sample / "test_mpii.json", codec=SMALL, num_keypoints=17)


def test_auto_metric_lsp_pck_and_no_dets(lspet, coco_sample, tmp_path):
    data = json.loads((lspet / "train_lsp14.json").read_text())
    data["images"], data["annotations"] = data["images"][:6], data["annotations"][:6]
    ann = tmp_path / "lsp6.json"
    ann.write_text(json.dumps(data))
    kw = {"num_keypoints": 14, "codec": SMALL, "progress": False}
    report = evaluate_topdown(_zeros(14), ann, lspet / "images", **kw)
    assert report.metric == "pck" and report.num_persons == 6
    assert "PCK@0.2/mean" in report.metrics and "right_hip" in report.table
    with pytest.raises(ValueError, match="pck scores one prediction per ground-truth person"):
        evaluate_topdown(
            _zeros(14), ann, lspet / "images", dets_file=coco_sample / "val4_person_dets.json", **kw
        )
