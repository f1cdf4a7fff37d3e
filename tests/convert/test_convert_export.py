"""A model converted from the authors' checkpoint exports like any other, verified."""

from __future__ import annotations

import pytest

from danet_edge.codec import HeatmapCodec
from danet_tf.convert import convert_checkpoint
from danet_tf.export import export_model, load_predict, person_crops, read_metadata
from danet_tf.export.runners import keras_predict
from danet_tf.models import load_model

# What the export path must carry from a conversion is the same for every converted network
# (biases, PyTorch-style symmetric padding, the authors' normalization, ``converted_from``), so
# the small converted checkpoint stands for all: at 128x96 its TFLite export test took 13 s
# against 53 s for the converted DANet-72 (idle 2-vCPU Intel Xeon). The conversion's exactness,
# DANet-72 included, is checked at the authors' size in test_convert_megengine.py.
SIZE = (128, 96)


@pytest.fixture(scope="module")
def converted(megengine_reference, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "tiny_authors.keras"
    convert_checkpoint(megengine_reference / "tiny.pkl", out, input_size=SIZE)
    return out, load_model(out)


@pytest.fixture(scope="module")
def crops(coco_sample):
    return person_crops(coco_sample / "train.json", coco_sample / "images",
                        HeatmapCodec.for_input(SIZE), count=10)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "name"), [("tflite", "m.tflite"), ("onnx", "m.onnx")])
def test_converted_model_exports_and_verifies(converted, crops, tmp_path, fmt, name):
    path, model = converted
    _, verification = crops.split()
    out = tmp_path / name
    result = export_model(
        model, out, fmt, verification, weights_path=path, model_name="tiny_authors"
    )
    assert result.report.ok and out.exists()
    meta = read_metadata(out)
    assert meta["verification"]["ok"] is True
    # The authors' statistics, RGB order, come from the model, not from code defaults.
    assert meta["input"]["normalization"]["mean"] == pytest.approx([103.53, 116.28, 123.675])
    assert meta["input"]["normalization"]["std"] == pytest.approx([57.375, 57.12, 58.395])
    source = meta["source"]["converted_from"]
    assert source["format"] == "megengine" and len(source["sha256"]) == 64
    got = load_predict(out, 1, meta)(verification.images[:2])
    want = keras_predict(model)(verification.images[:2])
    assert abs(got - want).max() < 1e-3
