"""Hostile annotation files made from the real samples: duplicate ids and wrongly typed
fields end in an AnnotationError naming the file, the id and the field; NaN and outside
boxes end in a counted skip."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from danet_tf.data import AnnotationError, load_coco, load_lsp, load_mpii


@pytest.fixture(scope="module")
def val4(coco_sample: Path) -> dict:
    return json.loads((coco_sample / "val4.json").read_text())


def _write(tmp_path: Path, data, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))  # NaN stays NaN
    return path


def _refused(path: Path, *patterns: str, reader=load_coco, **kw) -> str:
    with pytest.raises(AnnotationError) as info:
        reader(path, **kw)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    for pattern in patterns:
        assert pattern in message, message
    return message


def _person(data: dict, index: int = 0) -> dict:
    """The index-th annotation that has labelled keypoints (val4 has two without)."""
    return [a for a in data["annotations"] if a["num_keypoints"] > 0][index]


def test_duplicate_annotation_id_is_refused(tmp_path, val4):
    data = copy.deepcopy(val4)
    first, second = data["annotations"][0], data["annotations"][5]
    second["id"] = first["id"]
    _refused(
        _write(tmp_path, data), f"annotation id {first['id']} appears twice",
        "annotations[0] and annotations[5]",
    )  # fmt: skip


def test_duplicate_image_id_is_refused(tmp_path, val4):
    data = copy.deepcopy(val4)
    data["images"][2]["id"] = data["images"][0]["id"]
    _refused(
        _write(tmp_path, data), f"image id {data['images'][0]['id']} appears twice",
        data["images"][0]["file_name"], data["images"][2]["file_name"],
    )  # fmt: skip


def test_duplicate_ids_in_lspet_are_refused(tmp_path, lspet: Path):
    data = json.loads((lspet / "train_lsp14.json").read_text())
    data["images"], data["annotations"] = data["images"][:5], data["annotations"][:5]
    data["annotations"][3]["id"] = data["annotations"][1]["id"]
    _refused(
        _write(tmp_path, data), f"annotation id {data['annotations'][1]['id']} appears twice",
        reader=load_lsp,
    )  # fmt: skip


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("bbox", None, "'bbox' must be a list of x, y, w, h, got null"),
        ("bbox", "10,20,30,40", "'bbox' must be a list of x, y, w, h, got \"10,20,30,40\""),
        ("bbox", [10, 20, 30], "'bbox' has 3 values, expected 4"),
        ("bbox", [10, "20", 30, 40], "'bbox'[1] must be a number, got \"20\""),
        ("bbox", [10, None, 30, 40], "'bbox'[1] must be a number, got null"),
        ("bbox", [10, True, 30, 40], "'bbox'[1] must be a number, got true"),
        ("keypoints", None, "'keypoints' must be a list of x, y, v for 17 keypoints, got null"),
        ("keypoints", "0,0,0", "'keypoints' must be a list"),
        ("keypoints", [0] * 50, "has 50 keypoint values"),
        ("keypoints", [0] * 10 + [None] + [0] * 40, "'keypoints'[10] must be a number, got null"),
        ("keypoints", [0] * 5 + [3] + [0] * 45, "keypoint 1 ('left_eye') has visibility 3"),
        ("image_id", "785", "unknown image_id \"785\""),
        ("iscrowd", "no", "'iscrowd' must be 0 or 1"),
        ("id", "7", "'id' must be an integer, got \"7\""),
    ],
)  # fmt: skip
def test_wrongly_typed_annotation_fields_are_refused(tmp_path, val4, field, value, expected):
    data = copy.deepcopy(val4)
    ann = _person(data, 1)
    ann_id = ann["id"]
    ann[field] = value
    message = _refused(_write(tmp_path, data), expected)
    if field != "id":
        assert f"annotation id {ann_id} (annotations[" in message


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("id", "785", "images[1]: 'id' must be an integer, got \"785\""),
        ("file_name", None, "'file_name' must be a file name, got null"),
        ("width", "640", "'width' must be a positive number, got \"640\""),
        ("height", -1, "'height' must be a positive number, got -1"),
    ],
)  # fmt: skip
def test_wrongly_typed_image_fields_are_refused(tmp_path, val4, field, value, expected):
    data = copy.deepcopy(val4)
    image_id = data["images"][1]["id"]
    data["images"][1][field] = value
    message = _refused(_write(tmp_path, data), expected)
    if field != "id":
        assert f"image id {image_id} (images[1])" in message


def test_missing_annotation_id_is_refused(tmp_path, val4):
    data = copy.deepcopy(val4)
    del data["annotations"][4]["id"]
    _refused(_write(tmp_path, data), "annotations[4] has no 'id'")


def test_nan_and_outside_boxes_are_counted(tmp_path, val4, coco_sample):
    data = copy.deepcopy(val4)
    people = [a for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    sizes = {img["id"]: (img["width"], img["height"]) for img in data["images"]}
    people[0]["bbox"][2] = float("nan")
    w, h = sizes[people[1]["image_id"]]
    people[1]["bbox"] = [w + 500.0, h + 500.0, 80.0, 120.0]  # far outside the image
    people[2]["bbox"] = [-5000.0, 10.0, 100.0, 100.0]  # far left of it
    labelled = next(j for j in range(17) if people[3]["keypoints"][3 * j + 2] > 0)
    people[3]["keypoints"][3 * labelled] = float("inf")
    path = _write(tmp_path, data)
    assert "NaN" in path.read_text() and "Infinity" in path.read_text()
    ds = load_coco(path, coco_sample / "images")
    c = ds.counts
    assert c.skipped == {"no_keypoints": 2, "nonfinite_keypoints": 1, "nonfinite_box": 1,
                         "outside_box": 2}  # fmt: skip
    assert (c.total, c.kept) == (14, 8) and len(ds) == 8
    kept = {s.annotation_id for s in ds.samples}
    assert not kept & {p["id"] for p in people[:4]}
    assert "skipped 6 (no_keypoints 2, nonfinite_keypoints 1, nonfinite_box 1, outside_box 2)" in (
        ds.summary()
    )
    assert ds.summary().startswith(str(path))


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("joints", None, "joints null, expected (16, 2)"),
        ("joints", "1,2", "joints \"1,2\", expected (16, 2)"),
        ("joints", [[1, 2]] * 15 + [[1, None]], "'joints[15]'[1] must be a number, got null"),
        ("joints", [[1, 2]] * 15 + [[1]], "'joints[15]' has 1 values, expected 2"),
        ("joints_vis", None, "'joints_vis' must be a list of 0 or 1 per joint, got null"),
        ("center", "966,340", "'center' must be a list of x, y, got \"966,340\""),
        ("scale", "4.7", "'scale' must be a number, got \"4.7\""),
        ("image", 5, "record 2: 'image' must be a file name, got 5"),
    ],
)  # fmt: skip
def test_wrongly_typed_mpii_fields_are_refused(tmp_path, mpii_sample, field, value, expected):
    records = json.loads((mpii_sample / "test_mpii.json").read_text())
    records[2][field] = value
    message = _refused(_write(tmp_path, records), expected, reader=load_mpii)
    if field != "image":
        assert f"record 2 ({records[2]['image']})" in message


def test_mpii_nan_scale_is_counted(tmp_path, mpii_sample):
    records = json.loads((mpii_sample / "test_mpii.json").read_text())
    records[1]["scale"] = float("nan")
    labelled = records[3]["joints_vis"].index(1)
    records[3]["joints"][labelled] = [float("nan"), 5.0]
    ds = load_mpii(_write(tmp_path, records), mpii_sample / "images")
    assert ds.counts.skipped == {"nonfinite_keypoints": 1, "nonfinite_box": 1} and len(ds) == 3
