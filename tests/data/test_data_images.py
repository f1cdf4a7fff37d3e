"""The one checked image reader (danet_edge.images): raising and skip-style variants on
bad copies of a real COCO image, its use by danet_tf.data, and no TensorFlow import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import danet_edge.images as edge_images
from danet_tf.codec import HeatmapCodec
from danet_tf.data import calibration_crops, load_coco
from danet_tf.data import images as data_images
from tests.data.data_helpers import person, write_coco

NAME = "000000000785.jpg"


@pytest.fixture(scope="module")
def bad_images(coco_sample: Path, tmp_path_factory) -> dict[str, Path]:
    """name -> file: a good copy of a real image and broken ones made from it."""
    root = tmp_path_factory.mktemp("images")
    data = (coco_sample / "images" / NAME).read_bytes()
    files = {
        "good": data,
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "text": b"this is not an image\n" * 20,
        "corrupt": bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8)),
    }
    out = {}
    for name, content in files.items():
        (root / f"{name}.jpg").write_bytes(content)
        out[name] = root / f"{name}.jpg"
    out["missing"] = root / "missing.jpg"
    (root / "folder.jpg").mkdir()
    out["folder"] = root / "folder.jpg"
    return out


REASONS = {
    "truncated": "truncated JPEG (no end-of-image marker)",
    "empty": "empty file",
    "text": "not a decodable image",
    "corrupt": "not a decodable image",
    "missing": "missing file",
    "folder": "a directory, not an image file",
}


@pytest.mark.parametrize("name", sorted(REASONS))
def test_bad_files_raise_naming_file_and_reason(bad_images, name):
    path = bad_images[name]
    with pytest.raises(edge_images.ImageReadError) as info:
        edge_images.load_image(path)
    assert str(info.value) == f"{path}: {REASONS[name]}"
    assert info.value.path == str(path) and info.value.reason == REASONS[name]
    assert isinstance(info.value, ValueError)
    assert edge_images.read_image(path) == (None, REASONS[name])


def test_good_file_reads_as_cv2_does(bad_images):
    path = bad_images["good"]
    want = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    bgr = edge_images.load_image(path)
    assert bgr.dtype == np.uint8 and bgr.shape == want.shape
    np.testing.assert_array_equal(bgr, want)
    np.testing.assert_array_equal(edge_images.load_image(path, rgb=True), want[..., ::-1])
    image, why = edge_images.read_image(str(path), rgb=True)
    assert why is None and np.array_equal(image, want[..., ::-1])
    # cv2.imread itself accepts the truncated copy: the check is ours.
    assert cv2.imread(str(bad_images["truncated"])) is not None


def test_danet_tf_data_images_delegates():
    for name in ("read_image", "load_image", "decode_image", "read_bytes", "check_bytes",
                 "jpeg_header", "ImageReadError"):  # fmt: skip
        assert getattr(data_images, name) is getattr(edge_images, name)


def test_reader_imports_without_tensorflow_or_danet_tf(bad_images):
    code = f"""
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'danet_tf'):
            raise ModuleNotFoundError(f'No module named {{name!r}} (blocked by the test)')
sys.meta_path.insert(0, _Absent())
from danet_edge.images import ImageReadError, load_image
print(load_image({str(bad_images["good"])!r}).shape)
try:
    load_image({str(bad_images["truncated"])!r})
except ImageReadError as exc:
    print("ERROR", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERROR" in out.stdout and "truncated JPEG" in out.stdout


def test_calibration_skips_and_counts_bad_files(tmp_path, bad_images, coco_sample):
    import json

    gt = json.loads((coco_sample / "val4.json").read_text())
    info = next(i for i in gt["images"] if i["file_name"] == NAME)
    names = ["good", "truncated", "empty", "missing"]
    images = [{"id": k + 1, "file_name": bad_images[n].name, "width": info["width"],
               "height": info["height"]} for k, n in enumerate(names)]  # fmt: skip
    anns = [person(k + 1, k + 1, [200, 50, 200, 300]) for k in range(len(names))]
    ds = load_coco(write_coco(tmp_path / "calib.json", images, anns), bad_images["good"].parent)
    counter = data_images.SkipCounter()
    crops, _ = calibration_crops(ds, HeatmapCodec.for_input((64, 48)), count=4, skip_counter=counter)
    assert len(crops) == 1
    assert counter.by_reason == {REASONS["truncated"]: 1, "empty file": 1, "missing file": 1}
    assert counter.summary() == (
        "skipped 3: empty file 1, missing file 1, truncated JPEG (no end-of-image marker) 1"
    )
