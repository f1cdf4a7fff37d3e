"""The edge predictor: image + boxes -> keypoints in image pixels, driven by embedded metadata."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from danet_edge.metadata import MetadataError, read_embedded, read_metadata
from danet_edge.topdown import TopDownPredictor


def test_keypoints_match_keras_in_image_pixels(tiny_tflite, tiny_keras, person_image):
    from danet_tf.export.runners import keras_predict

    image_path, box = person_image
    image = cv2.imread(str(image_path))
    predictor = TopDownPredictor.from_file(tiny_tflite, num_threads=2)
    poses = predictor(image, [box, [0, 0, 50, 80]])
    assert poses.keypoints.shape == (2, 17, 2) and poses.scores.shape == (2, 17)
    reference = TopDownPredictor.from_metadata(keras_predict(tiny_keras), predictor.metadata)
    expected = reference(image, [box, [0, 0, 50, 80]])
    np.testing.assert_allclose(poses.keypoints, expected.keypoints, atol=0.5)
    # Keypoints are in image pixels: inside the padded box region, not the 64x64 crop.
    x, y, w, h = box
    assert np.all(poses.keypoints[0, :, 0] > x - w) and np.all(poses.keypoints[0, :, 0] < x + 2 * w)
    assert set(poses.timings_ms) == {"detect", "preprocess", "model", "postprocess"}


def test_onnx_and_tflite_agree(tiny_tflite, tiny_onnx, person_image):
    image = cv2.imread(str(person_image[0]))
    box = [person_image[1]]
    a = TopDownPredictor.from_file(tiny_tflite)(image, box)
    b = TopDownPredictor.from_file(tiny_onnx)(image, box)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.5)


def test_flip_test_comes_from_metadata_and_can_be_overridden(tiny_tflite, person_image):
    image = cv2.imread(str(person_image[0]))
    box = [person_image[1]]
    calls = []
    default = TopDownPredictor.from_file(tiny_tflite)
    assert default.codec.flip_test is read_metadata(tiny_tflite)["codec"]["flip_test"]
    single = TopDownPredictor.from_file(tiny_tflite, flip_test=False)
    inner = single.predict
    single.predict = lambda crops: calls.append(len(crops)) or inner(crops)
    single(image, box)
    flipped = TopDownPredictor.from_file(tiny_tflite, flip_test=True)
    inner_flip = flipped.predict
    flipped.predict = lambda crops: calls.append(len(crops)) or inner_flip(crops)
    flipped(image, box)
    assert calls == [1, 2]  # the mirror runs in the same batched call


def test_whole_image_without_boxes_or_detector(tiny_tflite, person_image):
    image = cv2.imread(str(person_image[0]))
    poses = TopDownPredictor.from_file(tiny_tflite)(image)
    np.testing.assert_array_equal(poses.boxes, [[0, 0, image.shape[1], image.shape[0]]])


def test_detector_boxes_are_used_when_no_boxes_given(tiny_tflite, person_image):
    image = cv2.imread(str(person_image[0]))
    found = np.array([[10, 10, 40, 80], [60, 20, 50, 90]], np.float32), np.array([0.9, 0.5])
    predictor = TopDownPredictor.from_file(tiny_tflite, detector=lambda bgr: found)
    poses = predictor(image)
    np.testing.assert_array_equal(poses.boxes, found[0])
    people = poses.to_json(predictor.names)
    assert [p["box_score"] for p in people] == [0.9, 0.5]
    assert people[0]["score"] == pytest.approx(0.9 * float(np.mean(poses.scores[0])), abs=1e-4)
    nobody = TopDownPredictor.from_file(tiny_tflite, detector=lambda bgr: (np.zeros((0, 4)), np.zeros(0)))
    assert len(nobody(image)) == 0


def test_op_resolver_follows_metadata(tiny_tflite, tmp_path):
    from danet_edge.metadata import embed_tflite
    from danet_edge.runners import LiteRTModel

    meta = read_metadata(tiny_tflite)
    for xnnpack in (False, True):
        meta["runtime"]["xnnpack"] = xnnpack
        model = tmp_path / f"m{xnnpack}.tflite"
        model.write_bytes(embed_tflite(tiny_tflite.read_bytes(), meta))
        runner = TopDownPredictor.from_file(model).predict
        assert isinstance(runner, LiteRTModel)
        assert read_metadata(model)["runtime"]["xnnpack"] is xnnpack
        # The interpreter really runs as the metadata says: XNNPACK takes the graph over as
        # one DELEGATE node, the builtin resolver leaves the ops as they are.
        ops = [op["op_name"] for op in runner.interpreter._get_ops_details()]
        assert ("DELEGATE" in ops) is xnnpack, ops


def test_file_without_danet_metadata_is_named(tiny_tflite, tmp_path):
    import flatbuffers

    # The same graph without the metadata entry: what a .tflite of another origin looks like.
    from ai_edge_litert import schema_py_generated as schema

    from danet_edge.metadata import EMBEDDED_NAME

    model = schema.ModelT.InitFromPackedBuf(bytearray(tiny_tflite.read_bytes()), 0)
    model.metadata = [m for m in model.metadata if m.name.decode() != EMBEDDED_NAME]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    lonely = tmp_path / "other.tflite"
    lonely.write_bytes(bytes(builder.Output()))
    assert read_embedded(lonely) is None
    with pytest.raises(MetadataError, match=r"other.tflite has no DANet metadata.*input size"):
        TopDownPredictor.from_file(lonely)


def test_damaged_files_are_named(tiny_tflite, tmp_path):
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(tiny_tflite.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cut.tflite"):
        TopDownPredictor.from_file(truncated)
    text = tmp_path / "text.tflite"
    text.write_text("not a model")
    with pytest.raises(MetadataError, match="text.tflite is not a TFLite flatbuffer"):
        read_metadata(text)


def test_sidecar_is_read_when_nothing_is_embedded(tiny_tflite, tmp_path):
    import json

    from danet_edge.metadata import sidecar_path

    test_file_without_danet_metadata_is_named(tiny_tflite, tmp_path)
    lonely = tmp_path / "other.tflite"
    sidecar_path(lonely).write_text(json.dumps(read_metadata(tiny_tflite)))
    assert TopDownPredictor.from_file(lonely).codec.input_size == (64, 64)


def test_bad_input_is_named(tiny_tflite):
    predictor = TopDownPredictor.from_file(tiny_tflite)
    with pytest.raises(ValueError, match="image must be"):
        predictor(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="boxes must be"):
        predictor(np.zeros((10, 10, 3), np.uint8), [[1, 2, 3]])
    with pytest.raises(ValueError, match=r"box 0 \[1.0, 2.0, nan, 4.0\] must be finite"):
        predictor(np.zeros((10, 10, 3), np.uint8), [[1, 2, float("nan"), 4]])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "danet_edge.cli", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_cli_rejects_bad_input_before_running(tiny_tflite, person_image, tmp_path):
    image = str(person_image[0])
    out = _cli(str(tiny_tflite), image, "--box", "1,2,-3,4")
    assert out.returncode == 2 and "box must be x,y,w,h" in out.stderr
    out = _cli(str(tiny_tflite), image, "--output", str(tmp_path / "x.xyz"))
    assert out.returncode == 2 and "unknown extension '.xyz'" in out.stderr
    out = _cli(str(tiny_tflite), image, "--output", str(tmp_path / "missing" / "x.jpg"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(person_image[0].read_bytes()[:3000])
    out = _cli(str(tiny_tflite), str(broken), "--no-detector")
    assert out.returncode == 2 and "broken.jpg" in out.stderr and "Traceback" not in out.stderr
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(tiny_tflite.read_bytes()[:5000])
    out = _cli(str(cut), image, "--no-detector")
    assert out.returncode == 2 and "cut.tflite" in out.stderr and "Traceback" not in out.stderr


def test_cli_describe_prints_embedded_metadata(tiny_tflite, person_image):
    import json

    out = _cli(str(tiny_tflite), str(person_image[0]), "--describe")
    assert out.returncode == 0, out.stderr
    meta = json.loads(out.stdout)
    assert meta["input"]["size"] == [64, 64] and meta["verification"]["passed"] is True


def test_old_path_still_runs(tiny_tflite, person_image):
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "tflite" / "estimate.py"
    out = subprocess.run([sys.executable, str(script), str(tiny_tflite), str(person_image[0]),
                          "--no-detector", "--json"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert '"persons"' in out.stdout


def test_console_script_is_installed(tiny_tflite, person_image):
    from pathlib import Path

    command = Path(sys.executable).parent / "danet-estimate"
    out = subprocess.run([str(command), str(tiny_tflite), str(person_image[0]), "--no-detector"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "1 person(s)" in out.stdout
