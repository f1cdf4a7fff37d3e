"""Quantization-aware training: tfmot on the tf_keras rebuild, fine-tuned, written as int8 TFLite."""

from __future__ import annotations

import os

import numpy as np
import pytest

from danet_tf.export import export_model, read_metadata
from tests.harness import assert_one_xnnpack_partition, random_weights_bounds


@pytest.mark.slow
def test_qat_export_writes_verified_int8(tiny_model, crop_sets, tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    calibration, verification = crop_sets
    out = tmp_path / "qat.tflite"
    result = export_model(tiny_model, out, "tflite", verification, quantize="int8", qat_epochs=1,
                          calibration=calibration, bounds=random_weights_bounds())  # fmt: skip
    printed = capsys.readouterr().out
    assert "qat: fine-tuned 1 epoch(s)" in printed and "verify:" in printed
    assert result.report.ok and read_metadata(out)["quantization"]["qat"] is True
    dtypes = [d["dtype"] for d in Interpreter(model_path=str(out)).get_tensor_details()]
    assert dtypes.count(np.int8) > len(dtypes) // 2
    # Batch 1 and ops XNNPACK takes in int8: one partition (a dynamic batch computed the
    # transposed convolutions' shapes at run time; the relu-form |z| left standalone RELUs).
    assert list(Interpreter(model_path=str(out)).get_input_details()[0]["shape"]) == [1, 64, 64, 3]
    assert_one_xnnpack_partition(out)
    # tfmot ran in a child process: this process's tf.keras is still Keras 3.
    assert os.environ.get("TF_USE_LEGACY_KERAS") in (None, "0", "")


def test_qat_needs_crops_and_epochs(tiny_model, tmp_path):
    from danet_tf.export.qat import write_qat_tflite

    with pytest.raises(ValueError, match="real person crops"):
        write_qat_tflite(tiny_model, tmp_path / "q.tflite", None, 1)
