"""Every export mode writes, verifies against Keras on real crops, and records metadata."""

from __future__ import annotations

import numpy as np
import pytest

from danet_edge.metadata import read_embedded
from danet_tf.export import export_model, load_predict, read_metadata
from danet_tf.export.runners import keras_predict
from tests.harness import assert_one_xnnpack_partition

CASES = [
    ("keras", "none"),
    ("savedmodel", "none"),
    ("onnx", "none"),
    ("tflite", "none"),
    ("tflite", "fp16"),
    ("tflite", "dynamic"),  # quantized random weights: loose bounds (tiny_export)
    ("tflite", "int8"),
    ("tflite", "int8-float-dw"),
    ("tflite", "int8-float-ew"),
]


@pytest.mark.parametrize(("fmt", "quantize"), CASES, ids=[f"{f}-{q}" for f, q in CASES])
def test_export_round_trip(tiny_model, crop_sets, tiny_export, fmt, quantize):
    _, verification = crop_sets
    exported = tiny_export(fmt, quantize)  # shared with the other tests of these files
    out, result = exported.path, exported.result
    assert out.exists() and result.report.ok
    assert "verify:" in exported.printed
    # One artifact, its metadata inside (no sidecar, no scratch left behind).
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    assert read_embedded(out) is not None

    meta = read_metadata(out)
    assert meta["input"]["size"] == [64, 64] and meta["output"]["size"] == [16, 16]
    assert meta["keypoints"]["names"][0] == "nose" and len(meta["keypoints"]["flip_pairs"]) == 8
    assert meta["quantization"]["mode"] == quantize
    assert len(meta["source"]["weights_sha256"]) == 64
    assert meta["verification"]["ok"] is True and meta["verification"]["passed"] is True
    assert meta["codec"] == {**result.metadata["codec"], "input_size": [64, 64]}
    assert meta["source"]["model"] == "danet_tiny"
    if fmt == "tflite":
        assert meta["runtime"]["op_resolver"] in ("AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES")
    # The graph rewrites the file was converted with are recorded.
    rewrites = meta["rewrites"]
    if fmt in ("keras", "savedmodel"):
        assert not any(rewrites.values())
    else:
        assert rewrites["fuse_elementwise"] and "fold_batchnorm" not in rewrites
        assert rewrites["depthwise_block"] == (5 if fmt == "tflite" else None)
        assert rewrites["integer_ops"] == quantize.startswith("int8")

    heatmaps = load_predict(out, 1, meta)(verification.images[:2])
    assert heatmaps.shape == (2, 16, 16, 17)
    if quantize in ("none", "fp16"):
        reference = keras_predict(tiny_model)(verification.images[:2])
        np.testing.assert_allclose(heatmaps, reference, atol=0.02)
    if quantize.startswith("int8"):
        assert_one_xnnpack_partition(out)
    if quantize == "int8":
        assert_full_integer(out)
    if quantize == "int8-float-dw":
        assert meta["quantization"]["float_ops"] == ["DEPTHWISE_CONV_2D"]
        assert_float_ops(out, {"DEPTHWISE_CONV_2D"})
    if quantize == "int8-float-ew":
        assert meta["quantization"]["float_ops"] == ["DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL"]
        assert_float_ops(out, {"DEPTHWISE_CONV_2D", "ADD", "MUL"})


@pytest.mark.parametrize("quantize", ["int8"])
def test_quantized_exports_of_a_trained_model_meet_the_default_bounds(quantize, coco_sample,
                                                                      tmp_path):
    """The loose bounds above only hold random weights (flat heatmaps); a trained model's
    quantized files must agree with it within the modes' default bounds
    (`danet_tf.export.verify.BOUNDS`), on real crops cut by its own codec."""
    import danet_tf
    from danet_tf.export import person_crops
    from danet_tf.export.api import model_codec
    from danet_tf.presets import preset_keras_file

    path = preset_keras_file(danet_tf.list_presets()[0])
    model = danet_tf.load_model(path)
    crops = person_crops(coco_sample / "train.json", coco_sample / "images",
                         model_codec(model, path), count=30)  # fmt: skip
    calibration, verification = crops.split()
    out = tmp_path / f"preset_{quantize}.tflite"
    result = export_model(model, out, "tflite", verification, quantize=quantize,
                          calibration=calibration, weights_path=path)  # fmt: skip
    assert result.report.ok and out.is_file()
    assert read_metadata(out)["verification"]["passed"] is True


def test_savedmodel_signature_is_named(tiny_model, crop_sets, tmp_path):
    import tensorflow as tf

    _, verification = crop_sets
    export_model(tiny_model, tmp_path / "sm1", "savedmodel", verification, batch=1)
    signature = tf.saved_model.load(str(tmp_path / "sm1")).signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    assert list(inputs) == ["image"] and inputs["image"].shape.as_list() == [1, 64, 64, 3]
    assert list(signature.structured_outputs) == ["heatmaps"]


def assert_full_integer(path):
    """int8 activations and per-channel int8 weights inside, float32 image in and heatmaps out."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32
    tensors = interpreter.get_tensor_details()
    int8 = [d for d in tensors if d["dtype"] == np.int8]
    assert len(int8) > len(tensors) // 2
    assert any(len(d["quantization_parameters"]["scales"]) > 1 for d in int8), "per-channel weights"
    # Full integer: no op runs in float but the output's dequantize (TFLite's NEG, for one, has
    # no int8 kernel: the int8 graphs negate by multiplying with -1).
    dtype = {d["index"]: d["dtype"] for d in tensors}
    float_out = [op["op_name"] for op in interpreter._get_ops_details()
                 if any(dtype[t] == np.float32 for t in op["outputs"])]  # fmt: skip
    assert float_out == ["DEQUANTIZE"], float_out


def assert_float_ops(path, float_ops):
    """int8 convolutions; ``float_ops`` take and give float32."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    dtype = {d["index"]: d["dtype"] for d in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    convs = [op for op in ops if op["op_name"] == "CONV_2D"]
    assert convs and all(dtype[op["inputs"][0]] == np.int8 for op in convs)
    for name in float_ops:
        found = [op for op in ops if op["op_name"] == name]
        assert found, name
        assert all(dtype[op["inputs"][0]] == np.float32 for op in found), name
        assert all(dtype[op["outputs"][0]] == np.float32 for op in found), name
    assert any(op["op_name"] == "DEQUANTIZE" for op in ops)
