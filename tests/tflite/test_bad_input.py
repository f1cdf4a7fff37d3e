"""The edge runtime refuses what it cannot answer for: a JPEG with a damaged scan, a box
with no pixel in the image, a damaged detector file, metadata whose flip pairs repeat a
joint. Each was answered with a confident wrong result (exit 0) before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from danet_edge.images import decode_image, read_image


@pytest.fixture(scope="module")
def jpeg_bytes(coco_sample) -> bytes:
    name = json.loads((coco_sample / "val4.json").read_text())["images"][0]["file_name"]
    return (coco_sample / "images" / name).read_bytes()


def _damaged(data: bytes, how: str) -> bytes:
    if how == "half-scan":  # second half of the file replaced by an end-of-image marker
        return data[: len(data) // 2] + b"\xff\xd9"
    scan = bytearray(data)
    start = scan.find(b"\xff\xda") + 600
    for i in range(start, start + 200):  # 200 bytes of the entropy-coded scan flipped
        scan[i] ^= 0xFF
    return bytes(scan)


@pytest.mark.parametrize("how", ["half-scan", "xor"])
def test_a_jpeg_with_a_damaged_scan_is_refused(jpeg_bytes, how, tmp_path, capfd):
    image, why = decode_image(_damaged(jpeg_bytes, how))
    assert image is None
    assert why.startswith("corrupt JPEG data (libjpeg: Corrupt JPEG data")
    path = tmp_path / "bad.jpg"
    path.write_bytes(_damaged(jpeg_bytes, how))
    assert read_image(path)[0] is None
    assert "Corrupt JPEG" not in capfd.readouterr().err  # the warning became the reason


def test_intact_images_still_decode(coco_sample, lspet):
    paths = sorted((coco_sample / "images").glob("*.jpg"))[:20] + sorted(
        (lspet / "images").glob("*.jpg"))[:50]
    for path in paths:
        image, why = read_image(path)
        assert why is None and image is not None, (path, why)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ([5000, 5000, 100, 100], "has no pixel in the 640x"),
        ([-500, -500, 100, 100], "has no pixel in the 640x"),
        ([10, 10, 0.0001, 50], "under one pixel"),
        ([10, 10, 50, 0.5], "under one pixel"),
    ],
)
def test_a_box_without_a_pixel_in_the_image_is_refused(box, message):
    from danet_edge.topdown import check_boxes

    with pytest.raises(ValueError, match=message):
        check_boxes([box], (427, 640))


def test_a_partial_or_huge_box_is_clipped_to_the_image():
    from danet_edge.topdown import check_boxes

    got = check_boxes([[600, -20, 100, 100], [0, 0, 1e30, 1e30]], (427, 640))
    np.testing.assert_allclose(got, [[600, 0, 40, 80], [0, 0, 640, 427]])


def test_damaged_detector_file_is_refused_by_name(tmp_path):
    from danet_edge.detector import PersonDetector, default_detector_path

    installed = default_detector_path()
    if not installed.is_file():
        pytest.skip("no installed detector (python tools/fetch_detector.py)")
    copy = tmp_path / installed.name
    shutil.copyfile(installed, copy)
    shutil.copyfile(installed.with_name(installed.name + ".sha256"),
                    copy.with_name(copy.name + ".sha256"))
    PersonDetector(copy)  # intact: loads
    data = bytearray(copy.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 40_000, 97):
        data[i] ^= 0x55
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"detector {copy} has sha256 .* the file is damaged"):
        PersonDetector(copy)


def test_metadata_with_a_repeated_flip_joint_is_refused(tmp_path):
    from danet_edge.metadata import MetadataError, check_metadata, read_metadata
    from danet_edge.presets import list_presets, preset_file

    meta = read_metadata(preset_file(list_presets()[0]))
    check_metadata(meta)
    bad = json.loads(json.dumps(meta))
    bad["keypoints"]["flip_pairs"][0] = [1, 1]
    with pytest.raises(MetadataError, match=r"flip_pairs .* distinct joints"):
        check_metadata(bad, "x")
    for section, key, value in (("input", "normalization", {"mean": [1, 2, float("nan")]}),
                                ("input", "normalization", {"std": [1, 0, 1]}),
                                ("output", "size", [0, 24])):
        bad = json.loads(json.dumps(meta))
        bad[section][key] = value
        with pytest.raises(MetadataError):
            check_metadata(bad, "x")
    assert Path(preset_file(list_presets()[0])).is_file()


def test_filtered_fd_drops_only_the_matching_lines(capfd):
    import os
    import re

    from danet_edge.streams import filtered_fd

    with filtered_fd(2, re.compile("^noise")) as seen:
        os.write(2, b"noise: from C++\nkept line\n")
    assert seen.text == "noise: from C++\nkept line\n"
    assert capfd.readouterr().err == "kept line\n"
