"""Quantization-aware training: tfmot on the tf_keras rebuild, fine-tuned, written as int8 TFLite."""

from __future__ import annotations

import os

import numpy as np
import pytest

from danet_tf.export import export_model, read_metadata
from danet_tf.export.runners import keras_predict
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
    # The quantization ranges were calibrated on the crops before fine-tuning: the int8
    # heatmaps span about the float model's output range, not tfmot's starting [-6, 6] (which
    # a fine-tune of a few steps with its 0.999 moving average leaves nearly as it was).
    scale = _output_scale(out)
    heatmaps = keras_predict(tiny_model)(calibration.images)
    span = float(max(heatmaps.max(), 0.0) - min(heatmaps.min(), 0.0))
    assert span / 2 < scale * 255 < span * 1.5, (scale * 255, span)
    # tfmot ran in a child process: this process's tf.keras is still Keras 3.
    assert os.environ.get("TF_USE_LEGACY_KERAS") in (None, "0", "")


def _output_scale(path) -> float:
    """Quantization scale of the int8 tensor that the float output is dequantized from."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    output = interpreter.get_output_details()[0]["index"]
    (op,) = [op for op in interpreter._get_ops_details() if output in op["outputs"]]
    assert op["op_name"] == "DEQUANTIZE", op
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    return float(details[op["inputs"][0]]["quantization"][0])


def test_qat_needs_crops_epochs_and_a_learning_rate(tiny_model, crop_sets, tmp_path):
    from danet_tf.export.qat import write_qat_tflite

    with pytest.raises(ValueError, match="real person crops"):
        write_qat_tflite(tiny_model, tmp_path / "q.tflite", None, 1)
    with pytest.raises(ValueError, match="learning rate must be > 0, got 0"):
        write_qat_tflite(tiny_model, tmp_path / "q.tflite", crop_sets[0], 1, learning_rate=0)
    with pytest.raises(ValueError, match="qat_learning_rate=0.001 needs qat_epochs"):
        export_model(tiny_model, tmp_path / "q.tflite", "tflite", crop_sets[1], quantize="int8",
                     calibration=crop_sets[0], qat_learning_rate=1e-3)  # fmt: skip


@pytest.mark.parametrize("flags", [["--qat-lr", "1e-5"], ["--qat-epochs", "1", "--qat-lr", "0"]])
def test_export_cli_refuses_a_qat_lr_it_cannot_use(flags, capsys):
    from danet_tools.export import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "danet_tiny", "--format", "tflite", "--quantize", "int8",
              "--output", "unused.tflite", *flags])  # fmt: skip
    assert exit_info.value.code == 2
    assert f"--qat-lr {float(flags[-1])}: needs --qat-epochs" in capsys.readouterr().err
