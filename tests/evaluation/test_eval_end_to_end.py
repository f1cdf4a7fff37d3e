"""evaluate_topdown and tools/eval.py end to end with a tiny real Keras model on real data."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from danet_edge.codec import HeatmapCodec
from danet_tf.evaluation import evaluate_topdown, keras_predict_fn
from tests.evaluation.eval_oracle import run_eval_cli

SIZE = (128, 96)


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory) -> Path:
    import danet_tf

    model = danet_tf.build_model("danet_tiny", input_shape=(*SIZE, 3))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def predict(tiny_model_file):
    import keras

    return keras_predict_fn(keras.models.load_model(tiny_model_file))


def _eval(predict, ann, **kw):
    kw.setdefault("num_keypoints", 17)
    return evaluate_topdown(predict, ann, codec=HeatmapCodec.for_input(SIZE), progress=False, **kw)


def test_end_to_end_with_detections(coco_sample, predict, tmp_path):
    out = tmp_path / "results.json"
    report = _eval(
        predict, coco_sample / "val4.json", dets_file=coco_sample / "val4_person_dets.json", out=out
    )
    assert report.metric == "coco" and report.num_persons == 118
    assert report.detections.kept == 118 and not report.skipped_images
    assert 0 < len(report.results) <= 118  # OKS-NMS may merge
    assert 0.0 <= report.metrics["AP"] <= 1.0 and "Average Precision" in report.table
    saved = json.loads(out.read_text())
    assert saved == report.results
    kps = np.array([r["keypoints"] for r in saved]).reshape(len(saved), 17, 3)
    assert np.isfinite(kps).all()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(coco_sample / "val4.json"))
        gt.loadRes(str(out))  # a valid COCO results file
    # Keypoints land inside their detection's padded crop region, in image pixels.
    w = max(img["width"] for img in gt.imgs.values())
    assert kps[..., 0].min() > -w and kps[..., 0].max() < 2 * w
    no_flip = _eval(
        predict,
        coco_sample / "val4.json",
        dets_file=coco_sample / "val4_person_dets.json",
        flip=False,
    )
    assert no_flip.results != report.results


def test_gt_boxes_missing_image_is_counted(coco_sample, predict, tmp_path):
    data = json.loads((coco_sample / "val4.json").read_text())
    data["images"][0]["file_name"] = "no_such_image.jpg"
    ann = tmp_path / "val4_missing.json"
    ann.write_text(json.dumps(data))
    lost = sum(
        1 for a in data["annotations"]
        if a["image_id"] == data["images"][0]["id"] and a["num_keypoints"] > 0 and not a["iscrowd"]
    )  # fmt: skip
    report = _eval(predict, ann, image_dir=coco_sample / "images")
    assert lost > 0 and report.skipped_persons == lost
    assert report.num_persons == 12 - lost
    [(path, why)] = report.skipped_images.items()
    assert path.endswith("no_such_image.jpg") and why == "missing file"
    assert "no_such_image.jpg" in report.summary()


def test_detections_for_unknown_images_are_counted(coco_sample, predict, tmp_path):
    dets = json.loads((coco_sample / "val4_person_dets.json").read_text())[:10]
    dets[0]["image_id"] = dets[1]["image_id"] = 999999
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    report = _eval(predict, coco_sample / "val4.json", dets_file=path)
    assert report.detections.unknown_image == 2 and report.num_persons == 8
    assert "999999" in report.summary()


def test_bad_inputs_fail_naming_the_value(coco_sample, lspet, predict, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(ValueError, match="holds no detections"):
        _eval(predict, coco_sample / "val4.json", dets_file=empty)
    with pytest.raises(ValueError, match="no usable detection"):
        _eval(
            predict, coco_sample / "val4.json", dets_file=coco_sample / "val4_person_dets.json",
            det_score_threshold=1.0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="14 keypoints per person but the model outputs 17"):
        _eval(predict, lspet / "train_lsp14.json")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        _eval(predict, tmp_path / "nope.json")
    with pytest.raises(ValueError, match="unknown decode mode 'argmax'"):
        _eval(predict, coco_sample / "val4.json", decode="argmax")


@pytest.mark.slow
def test_cli_end_to_end(coco_sample, tiny_model_file, tmp_path):
    out = tmp_path / "cli_results.json"
    proc = run_eval_cli(
        "--model", "danet_tiny", "--weights", str(tiny_model_file),
        "--ann", str(coco_sample / "val4.json"), "--images", str(coco_sample / "images"),
        "--dets", str(coco_sample / "val4_person_dets.json"), "--decode", "dark",
        "--input-size", "128x96", "--batch-size", "16", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Average Precision" in proc.stdout and "persons evaluated: 118" in proc.stdout
    assert isinstance(json.loads(out.read_text()), list)
    bad = run_eval_cli(
        "--weights",
        str(tiny_model_file),
        "--ann",
        str(coco_sample / "val4.json"),
        "--input-size",
        "256x192",
    )
    assert bad.returncode != 0 and "input size 256x192 but the model takes 128x96" in bad.stderr
