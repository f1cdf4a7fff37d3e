"""Whole images: without --box the person detector finds the people, then every person's pose."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from danet_edge.codec import HeatmapCodec


@pytest.fixture(scope="module")
def crowded(coco_sample):
    data = json.loads((coco_sample / "val4.json").read_text())
    counts = {i["id"]: sum(a["image_id"] == i["id"] for a in data["annotations"]) for i in data["images"]}
    info = next(i for i in data["images"] if i["id"] == max(counts, key=counts.get))
    return coco_sample / "images" / info["file_name"]


def test_cli_without_boxes_estimates_every_detected_person(tiny_tflite, crowded, detector_path):  # noqa: F811
    out = subprocess.run(
        [sys.executable, "-m", "danet_edge.cli", str(tiny_tflite), str(crowded), "--json",
         "--detector", str(detector_path)], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    persons = report["persons"]
    assert len(persons) >= 4 and report["detector"]["score_threshold"] == 0.3
    h, w = cv2.imread(str(crowded)).shape[:2]
    for p in persons:
        x, y, bw, bh = p["box"]
        assert 0 <= x and 0 <= y and x + bw <= w + 1 and y + bh <= h + 1 and p["box_score"] >= 0.3
        assert p["score"] == pytest.approx(p["box_score"] * np.mean([v[2] for v in p["keypoints"].values()]), abs=2e-3)
    # A higher threshold keeps fewer people.
    strict = subprocess.run(
        [sys.executable, "-m", "danet_edge.cli", str(tiny_tflite), str(crowded), "--json",
         "--detector", str(detector_path), "--det-thr", "0.6"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert strict.returncode == 0 and len(json.loads(strict.stdout)["persons"]) < len(persons)


def test_eval_with_our_detector_measures_coco_ap(coco_sample, detector_path, tmp_path):  # noqa: F811
    import danet_tf
    from danet_edge.detector import PersonDetector
    from danet_tf.evaluation import evaluate_topdown
    from danet_tf.evaluation.inference import keras_predict_fn

    model = danet_tf.build_model("danet_tiny", input_shape=(64, 64, 3))
    out = tmp_path / "results.json"
    report = evaluate_topdown(keras_predict_fn(model), coco_sample / "val4.json", num_keypoints=17,
                              codec=HeatmapCodec.for_input((64, 64)), detector=PersonDetector(detector_path),
                              out=out, progress=False)  # fmt: skip
    dets = json.loads((tmp_path / "results.json.dets.json").read_text())
    assert report.detections.kept == len(dets) >= 12 and 0 <= report.metrics["AP"] <= 1


def test_whole_image_benchmark_times_detector_and_batched_persons(tiny_tflite, crowded, detector_path):  # noqa: F811
    from danet_tf.benchmarks.deployment import format_whole_image, whole_image_timings

    (row,) = whole_image_timings(tiny_tflite, crowded, detector_path, threads=(1,), persons=(1, 3),
                                 repeats=1)  # fmt: skip
    assert row["threads"] == 1 and row["detected"] >= 4
    assert row["whole_image_ms_3"] == pytest.approx(row["detector_ms"] + row["pose_ms_3"])
    assert row["detector_ms"] > 0 and row["pose_ms_1"] > 0
    assert "| 1 |" in format_whole_image([row], (1, 3))


def test_demo_without_boxes_draws_every_detected_person(tiny_tflite, crowded, detector_path, tmp_path):  # noqa: F811
    from pathlib import Path

    out = tmp_path / "demo.jpg"
    demo = Path(__file__).resolve().parents[2] / "tools" / "demo.py"
    run = subprocess.run([sys.executable, str(demo), str(crowded), "--model", str(tiny_tflite),
                          "--detector", str(detector_path), "--output", str(out)],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["persons"] >= 4
    assert cv2.imread(str(out)).shape == cv2.imread(str(crowded)).shape
