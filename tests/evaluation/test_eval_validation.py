"""Evaluation refuses bad numbers and counts what it skips, on small files made from the
real COCO sample: NaN / out-of-range detection scores, thresholds of -1 or NaN, boxes far
outside the image, truncated images, every image missing, NaN model outputs. Each case ends
in a clear error or a counted skip, and nothing invalid is written."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from danet_edge.codec import HeatmapCodec
from danet_tf.evaluation import (
    coco_keypoint_eval,
    evaluate_topdown,
    make_result,
    oks_nms,
    rescore,
    write_coco_results,
)
from danet_tf.evaluation.evaluate import NothingEvaluated
from danet_tf.evaluation.pck import mpii_pckh, pck
from tests.harness import REPO

SIZE, MAPS = (64, 48), (16, 12)


def flat_model(batch: np.ndarray) -> np.ndarray:
    """A stand-in network: one smooth bump per map (finite, cheap, no TensorFlow)."""
    y, x = np.mgrid[: MAPS[0], : MAPS[1]]
    bump = np.exp(-((x - 6.0) ** 2 + (y - 8.0) ** 2) / 4.0).astype(np.float32)
    return np.broadcast_to(bump[None, :, :, None], (len(batch), *MAPS, 17)).copy()


def _eval(ann, **kw):
    kw.setdefault("num_keypoints", 17)
    kw.setdefault("progress", False)
    kw.setdefault("batch_size", 64)
    return evaluate_topdown(kw.pop("predict", flat_model), ann, codec=HeatmapCodec.for_input(SIZE), **kw)


def _strict_json(path: Path):
    def refuse(name):
        raise AssertionError(f"{path} holds bare {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def dets(coco_sample) -> list[dict]:
    return json.loads((coco_sample / "val4_person_dets.json").read_text())[:12]


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))  # json.dumps writes NaN as a bare NaN, as the bug did
    return path


# --- detection files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("score", float("nan"), "'score' must be a finite number in [0, 1], got nan"),
        ("score", float("inf"), "'score' must be a finite number in [0, 1], got inf"),
        ("score", 1.5, "'score' must be a finite number in [0, 1], got 1.5"),
        ("score", -0.1, "'score' must be a finite number in [0, 1], got -0.1"),
        ("score", "0.9", "'score' must be a finite number in [0, 1], got '0.9'"),
        ("score", None, "'score' must be a finite number in [0, 1], got None"),
        ("bbox", None, "'bbox' must be a list of 4 numbers x, y, w, h, got None"),
        ("bbox", "1,2,3,4", "'bbox' must be a list of 4 numbers x, y, w, h, got '1,2,3,4'"),
        ("bbox", [1, 2, 3], "'bbox' must be a list of 4 numbers x, y, w, h, got [1, 2, 3]"),
        ("image_id", "785", "'image_id' must be an integer, got '785'"),
    ],
)  # fmt: skip
def test_bad_detection_fields_fail_naming_file_and_entry(
    coco_sample, dets, tmp_path, field, value, expected
):
    bad = copy.deepcopy(dets)
    bad[3][field] = value
    path = _write(tmp_path / "dets.json", bad)
    out = tmp_path / "results.json"
    with pytest.raises(ValueError) as info:
        _eval(coco_sample / "val4.json", dets_file=path, out=out)
    message = str(info.value)
    assert message.startswith(f"{path}: detection 3 (image_id "), message
    assert expected in message, message
    assert not out.exists()


def test_boxes_far_outside_the_image_are_skipped_and_counted(coco_sample, dets, tmp_path):
    gt = json.loads((coco_sample / "val4.json").read_text())
    sizes = {img["id"]: (img["width"], img["height"]) for img in gt["images"]}
    moved = copy.deepcopy(dets)
    w, h = sizes[moved[0]["image_id"]]
    moved[0]["bbox"] = [w + 1000.0, 10.0, 100.0, 200.0]
    moved[1]["bbox"] = [10.0, -5000.0, 100.0, 200.0]
    moved[2]["bbox"] = [-50.0, -50.0, 100.0, 200.0]  # overlaps the corner: kept
    moved[3]["bbox"] = [float("nan"), 10.0, 100.0, 200.0]
    report = _eval(coco_sample / "val4.json", dets_file=_write(tmp_path / "d.json", moved))
    c = report.detections
    assert (c.outside_image, c.nonfinite_box, c.kept, c.total) == (2, 1, 9, 12)
    assert c.skipped == {"nonfinite_box": 1, "outside_image": 2}
    assert report.num_persons == 9
    assert "2 boxes outside the image" in report.summary()


def test_gt_boxes_far_outside_are_counted_by_the_reader(coco_sample, tmp_path):
    gt = json.loads((coco_sample / "val4.json").read_text())
    person = next(a for a in gt["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"])
    person["bbox"] = [-9000.0, -9000.0, 50.0, 50.0]
    ann = _write(tmp_path / "val4_outside.json", gt)
    report = _eval(ann, image_dir=coco_sample / "images")
    assert report.dataset_counts.outside_box == 1 and report.num_persons == 11
    assert "annotations: kept 11 of 14 persons; skipped 3 (no_keypoints 2, outside_box 1)" in (
        report.summary()
    )


# --- thresholds ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1.0, float("nan"), 1.5, float("inf")])
@pytest.mark.parametrize("option", ["nms_threshold", "rescore_threshold", "det_score_threshold"])
def test_thresholds_outside_unit_interval_are_refused(coco_sample, tmp_path, option, value):
    out = tmp_path / "r.json"
    with pytest.raises(ValueError, match=f"{option} must be a finite number in \\[0, 1\\]"):
        _eval(coco_sample / "val4.json", out=out, **{option: value})
    assert not out.exists()


def test_nms_and_rescore_refuse_bad_thresholds_and_scores():
    kp = np.zeros((2, 17, 3))
    with pytest.raises(ValueError, match="OKS-NMS threshold must be .* got -1"):
        oks_nms(kp, np.array([0.5, 0.4]), np.ones(2), -1)
    with pytest.raises(ValueError, match="OKS-NMS threshold must be .* got nan"):
        oks_nms(kp, np.array([0.5, 0.4]), np.ones(2), float("nan"))
    with pytest.raises(ValueError, match="OKS-NMS scores: 1 of 2 values are NaN/inf"):
        oks_nms(kp, np.array([0.5, np.nan]), np.ones(2), 0.9)
    with pytest.raises(ValueError, match="rescore threshold must be .* got nan"):
        rescore([1.0, 1.0], kp[..., 2], float("nan"))
    with pytest.raises(ValueError, match="box scores: 1 of 2 values are NaN/inf"):
        rescore([1.0, np.nan], kp[..., 2])
    assert len(oks_nms(kp, np.array([0.5, 0.4]), np.ones(2), 1.0)) == 2  # 1 keeps all


def test_pck_threshold_is_checked():
    gt, names = np.zeros((1, 3, 2)), ["a", "b", "c"]
    for bad in (float("nan"), -0.2, 0.0):
        with pytest.raises(ValueError, match="PCK threshold must be a finite number > 0"):
            pck(gt, gt, np.ones((1, 3), bool), np.ones(1), bad, names)
    with pytest.raises(ValueError, match="head_factor must be a finite number > 0, got nan"):
        mpii_pckh(np.zeros((1, 16, 2)), np.zeros((1, 16, 3)), [str(i) for i in range(16)],
                  head_factor=float("nan"))  # fmt: skip


# --- strictly valid results ---------------------------------------------------------------


def test_results_are_strict_json_and_nan_is_never_written(coco_sample, tmp_path):
    with pytest.raises(ValueError, match="finite keypoints and score, got score nan"):
        make_result(785, np.zeros((17, 3)), float("nan"))
    entry = make_result(785, np.zeros((17, 3)), 0.5)
    out = tmp_path / "results.json"
    with pytest.raises(ValueError, match="NaN/inf values, nothing written"):
        write_coco_results(out, [entry, {**entry, "score": float("nan")}])
    assert not out.exists() and not list(tmp_path.iterdir())  # no temporary file left
    write_coco_results(out, [entry])
    assert _strict_json(out) == [entry]
    # A results file holding a bare NaN (as written before) is refused, naming the file.
    bad = tmp_path / "nan_results.json"
    bad.write_text(json.dumps([entry, {**entry, "score": float("nan")}]))
    with pytest.raises(ValueError, match=f"{bad}: result 1 \\(image 785\\) has score nan"):
        coco_keypoint_eval(coco_sample / "val4.json", bad)


def test_nan_model_output_fails_and_writes_nothing(coco_sample, tmp_path):
    def nan_model(batch):
        return np.full((len(batch), *MAPS, 17), np.nan, np.float32)

    out = tmp_path / "results.json"
    with pytest.raises(ValueError, match="decode to NaN/inf keypoints for 12 of 12 persons"):
        _eval(coco_sample / "val4.json", predict=nan_model, out=out)
    assert not out.exists()


def test_eval_results_file_is_strict_json(coco_sample, dets, tmp_path):
    out = tmp_path / "results.json"
    report = _eval(coco_sample / "val4.json", dets_file=_write(tmp_path / "d.json", dets), out=out)
    assert _strict_json(out) == report.results and report.results


# --- images -------------------------------------------------------------------------------


@pytest.fixture
def image_copy(coco_sample, tmp_path) -> tuple[Path, dict]:
    """A copy of val4's images (tmp) and its annotations."""
    gt = json.loads((coco_sample / "val4.json").read_text())
    root = tmp_path / "images"
    root.mkdir()
    for img in gt["images"]:
        shutil.copy(coco_sample / "images" / img["file_name"], root / img["file_name"])
    return root, gt


def test_truncated_jpeg_is_skipped_and_counted(image_copy, tmp_path):
    root, gt = image_copy
    victim = gt["images"][1]
    data = (root / victim["file_name"]).read_bytes()
    (root / victim["file_name"]).write_bytes(data[: len(data) // 2])
    lost = sum(1 for a in gt["annotations"] if a["image_id"] == victim["id"]
               and a["num_keypoints"] > 0 and not a["iscrowd"])  # fmt: skip
    out = tmp_path / "results.json"
    report = _eval(_write(tmp_path / "val4.json", gt), image_dir=root, out=out)
    assert lost > 0 and report.skipped_persons == lost and report.num_persons == 12 - lost
    reason = "truncated JPEG (no end-of-image marker)"
    assert report.skipped_images == {str(root / victim["file_name"]): reason}
    assert report.image_skips == {reason: 1}
    assert f"skipped 1 unreadable images ({lost} persons): {reason} 1" in report.summary()
    assert {r["image_id"] for r in _strict_json(out)} <= {i["id"] for i in gt["images"]} - {
        victim["id"]
    }


def test_all_images_missing_fails(image_copy, tmp_path):
    root, gt = image_copy
    for f in root.iterdir():
        f.unlink()
    out = tmp_path / "results.json"
    ann = _write(tmp_path / "val4.json", gt)
    with pytest.raises(NothingEvaluated, match="none of the 12 persons ran.*missing file 4"):
        _eval(ann, image_dir=root, out=out)
    assert not out.exists()


# --- tools/eval.py ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eval_tool():
    spec = importlib.util.spec_from_file_location("eval_tool", REPO / "tools" / "eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--nms-thr", "-1", "argument --nms-thr: must be a finite number in [0, 1], got '-1'"),
        ("--nms-thr", "nan", "argument --nms-thr: must be a finite number in [0, 1], got 'nan'"),
        ("--rescore-thr", "1.5", "argument --rescore-thr: must be a finite number in [0, 1]"),
        ("--det-thr", "nan", "argument --det-thr: must be a finite number in [0, 1]"),
        ("--heat-range", "0", "argument --heat-range: must be a finite number > 0"),
        ("--batch-size", "0", "argument --batch-size: must be an integer >= 1"),
        ("--input-size", "128,96", "argument --input-size: size must look like 256x192"),
    ],
)  # fmt: skip
def test_cli_refuses_bad_numbers_naming_the_flag(eval_tool, capsys, flag, value, expected):
    with pytest.raises(SystemExit) as info:
        eval_tool.parse_args(["--model", "danet_tiny", "--ann", "a.json", flag, value])
    assert info.value.code == 2
    assert expected in capsys.readouterr().err


def test_cli_input_size_syntax(eval_tool):
    args = eval_tool.parse_args(["--model", "m", "--ann", "a.json", "--input-size", "128x96"])
    assert args.input_size == (128, 96)


def test_cli_exits_non_zero_when_nothing_was_evaluated(eval_tool, image_copy, tmp_path, capsys):
    root, gt = image_copy
    for f in root.iterdir():
        f.unlink()
    ann = _write(tmp_path / "val4.json", gt)
    out = tmp_path / "results.json"
    code = eval_tool.main([
        "--model", "danet_tiny", "--input-size", "64x64", "--ann", str(ann),
        "--images", str(root), "--out", str(out), "--no-progress",
    ])  # fmt: skip
    assert code == 1 and not out.exists()
    err = capsys.readouterr().err
    assert "nothing could be evaluated" in err and "missing file 4" in err
    # A malformed detection file: exit 1, the message names the file and entry.
    bad = tmp_path / "dets.json"
    bad.write_text('[{"image_id": 785, "bbox": null, "score": 0.9}]')
    code = eval_tool.main([
        "--model", "danet_tiny", "--input-size", "64x64", "--ann", str(ann),
        "--dets", str(bad), "--no-progress",
    ])  # fmt: skip
    assert code == 1
    assert f"eval.py: error: {bad}: detection 0 (image_id 785): 'bbox'" in capsys.readouterr().err
