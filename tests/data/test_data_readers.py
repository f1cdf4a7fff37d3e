"""Readers on the real sample data, the filters, and malformed annotation files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from danet_tf.data import AnnotationError, load_coco, load_lsp, load_mpii
from tests.data.data_helpers import person, write_coco


def test_coco_sample_counts(coco_sample: Path):
    train = load_coco(coco_sample / "train.json")
    assert len(train) == 225 and train.counts.total == 225
    assert train.num_keypoints == 17
    assert train.keypoint_info.flip_pairs[0] == (1, 2)
    assert Path(train[0].image_path).is_file()
    val = load_coco(coco_sample / "val4.json")
    # 14 persons of which 2 have no labelled keypoint (data README).
    assert (val.counts.total, val.counts.kept, val.counts.no_keypoints) == (14, 12, 2)
    assert len(val.image_paths) == 4


def test_lspet_both_layouts(lspet: Path):
    lsp = load_lsp(lspet / "train_lsp14.json")
    assert len(lsp) == 9500 and lsp.num_keypoints == 14
    names = lsp.keypoint_info.names
    pairs = {(names[a], names[b]) for a, b in lsp.keypoint_info.flip_pairs}
    assert ("right_ankle", "left_ankle") in pairs and len(pairs) == 6
    coco17 = load_coco(lspet / "train_coco17.json")
    assert len(coco17) == 9500 and coco17.num_keypoints == 17
    with pytest.raises(AnnotationError, match="expected 14 keypoints"):
        load_lsp(lspet / "train_coco17.json")


def test_mpii_sample(mpii_sample: Path):
    ds = load_mpii(mpii_sample / "test_mpii.json")
    assert len(ds) == 5 and ds.num_keypoints == 16
    names = ds.keypoint_info.names
    assert {(names[a], names[b]) for a, b in ds.keypoint_info.flip_pairs} >= {
        ("right_ankle", "left_ankle"), ("right_wrist", "left_wrist")}  # fmt: skip
    raw = json.loads((mpii_sample / "test_mpii.json").read_text())[0]
    s = ds[0]
    np.testing.assert_allclose(s.keypoints[0, :2], np.array(raw["joints"][0]) - 1)
    # The box is scale*200 px tall and holds every joint.
    assert s.bbox[3] == pytest.approx(raw["scale"] * 200, rel=1e-5)
    x, y, w, h = s.bbox
    kp = s.keypoints[s.keypoints[:, 2] > 0, :2]
    assert np.all((kp[:, 0] >= x) & (kp[:, 0] <= x + w) & (kp[:, 1] >= y) & (kp[:, 1] <= y + h))


def test_filters_and_clipping(tmp_path: Path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}]
    no_kpts = person(1, 3, [10, 10, 20, 20], kpts=[0] * 51)
    anns = [
        person(1, 1, [10, 10, 30, 40]),
        person(1, 2, [10, 10, 30, 40], iscrowd=1),
        no_kpts,
        person(1, 4, [50, 10, 0.2, 40]),  # degenerate width
        person(1, 5, [120, 10, 30, 40]),  # entirely right of the image: empty after clipping
        person(1, 6, [-20, 60, 50, 40]),  # partly outside: clipped and kept
    ]
    ds = load_coco(write_coco(tmp_path / "a.json", images, anns), tmp_path)
    c = ds.counts
    assert (c.total, c.kept, c.crowd, c.no_keypoints, c.degenerate_box) == (6, 2, 1, 1, 1)
    assert c.outside_box == 1 and c.clipped_box == 1
    assert c.skipped == {"crowd": 1, "no_keypoints": 1, "outside_box": 1, "degenerate_box": 1}
    assert c.summary() == (
        "kept 2 of 6 persons; skipped 4 (crowd 1, no_keypoints 1, outside_box 1, "
        "degenerate_box 1); 1 box clipped to the image"
    )
    np.testing.assert_allclose(ds[1].bbox, [0, 60, 30, 20])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "{not json", "not valid json"),
        (lambda d: {k: v for k, v in d.items() if k != "annotations"}, "missing key"),
        (lambda d: {**d, "annotations": [{**d["annotations"][0], "keypoints": [1, 2, 2]}]},
         "has 3 keypoint values.*needs 51"),
        (lambda d: {**d, "annotations": [{**d["annotations"][0], "image_id": 99}]},
         "unknown image_id 99"),
        (lambda d: {**d, "annotations": [{k: v for k, v in d["annotations"][0].items()
                                          if k != "bbox"}]}, "has no 'bbox'"),
        (lambda d: {**d, "categories": [{"id": 1, "name": "person"}]}, "keypoints"),
    ],
)  # fmt: skip
def test_malformed_coco(tmp_path: Path, mutate, message: str):
    images = [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}]
    good = write_coco(tmp_path / "good.json", images, [person(1, 1, [10, 10, 30, 40])])
    bad = mutate(json.loads(good.read_text()))
    path = tmp_path / "bad.json"
    path.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(AnnotationError, match=message) as info:
        load_coco(path)
    assert str(path) in str(info.value)


def test_missing_annotation_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_coco(tmp_path / "nope.json")


def test_malformed_mpii(tmp_path: Path):
    rec = {"image": "a.jpg", "joints": [[1, 1]] * 16, "joints_vis": [1] * 16,
           "center": [5, 5], "scale": 1.0}  # fmt: skip
    path = tmp_path / "m.json"
    path.write_text(json.dumps([rec, {**rec, "joints": [[1, 1]] * 15}]))
    with pytest.raises(AnnotationError, match=r"record 1 \(a.jpg\): joints 15 entries"):
        load_mpii(path)
    path.write_text(json.dumps([{"image": "a.jpg"}]))
    with pytest.raises(AnnotationError, match="record 0 lacks key"):
        load_mpii(path)
    path.write_text(json.dumps({"image": "a.jpg"}))
    with pytest.raises(AnnotationError, match="must be a list"):
        load_mpii(path)


def test_min_box_area_drops_small_annotated_boxes(tmp_path: Path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 200}]
    boxes = [[10, 10, 30, 40],  # 1200 px^2: dropped at 1500
             [50, 50, 40, 40],  # 1600: kept
             [-20, 100, 40, 40]]  # 1600 as annotated, 800 after clipping: kept
    ann = write_coco(tmp_path / "a.json", images, [person(1, i + 1, b) for i, b in enumerate(boxes)])
    assert len(load_coco(ann, tmp_path)) == 3
    ds = load_coco(ann, tmp_path, min_box_area=1500)
    assert [s.annotation_id for s in ds.samples] == [2, 3]
    assert (ds.counts.small_box, ds.counts.kept, ds.counts.total) == (1, 2, 3)
