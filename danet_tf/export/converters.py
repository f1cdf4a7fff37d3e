"""Writers for each artifact format. Each writes to the path it is given (the caller makes it
atomic and verifies it); none of them imports an optional package before it is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from danet_edge.choices import QUANTIZE_MODES  # declared there, TensorFlow-free, for --help
from danet_edge.streams import filtered_fd

# Selective quantization: int8 everywhere except these ops, which stay float32 between a
# dequantize and a quantize op (measured on DANet: docs/deployment.md, Export modes and Speed;
# the plain-graph numbers below in CHANGELOG.md, 2026-11-24):
# - int8-float-dw: the depthwise convolutions (the 5x5 tiles of the export rewrites), for
#   CPUs whose int8 depthwise kernels are slow. On the plain graph XNNPACK's int8 9x9 ones
#   were the bottleneck of a full-integer DANet-72 (245 ms against 95 ms in float, at 1
#   thread); since the rewrites, full int8 runs at float32's speed on our x86 CPU too.
# - int8-float-ew: also the elementwise ADD/SUB/MUL (pre-activation batch norm, attention
#   gates, 1 - M). Those requantizations cost the most keypoint agreement with float32.
FLOAT_OPS = {
    "int8-float-dw": ("DEPTHWISE_CONV_2D",),
    "int8-float-ew": ("DEPTHWISE_CONV_2D", "ADD", "SUB", "MUL"),
}


def write_keras(model: Any, path: Path) -> None:
    model.save(str(path))


def write_savedmodel(model: Any, path: Path, batch: int | None = None) -> None:
    """SavedModel with one ``serving_default`` signature: ``image`` -> ``heatmaps``.

    ``batch=None`` leaves the batch dimension dynamic; TFLite conversion uses ``batch=1``.
    """
    import keras
    import tensorflow as tf

    h, w, c = model.input_shape[1:]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda image: {"heatmaps": model(image, training=False)},
        input_signature=[tf.TensorSpec((batch, h, w, c), tf.float32, name="image")],
    )
    archive.write_out(str(path), verbose=False)


def deployment_graph(model: Any, fmt: str, quantize: str = "none", rewrites: Any = None) -> Any:
    """The graph an export of ``fmt``/``quantize`` converts: ``model`` with the export-time
    rewrites of :mod:`danet_tf.export.rewrites` (same function, faster ops; ``rewrites``
    overrides the per-format choice, ``rewrites.NONE`` converts ``model`` as it is)."""
    from danet_tf.export import rewrites as rewrites_lib

    chosen = rewrites_lib.export_rewrites(fmt, quantize) if rewrites is None else rewrites
    return rewrites_lib.deployment_model(model, chosen)


def write_tflite(
    model: Any,
    path: Path,
    quantize: str = "none",
    calibration: np.ndarray | None = None,
    rewrites: Any = None,
) -> None:
    """TFLite with a fixed batch of 1, float32 input (RGB 0-255) and float32 heatmaps.

    ``int8`` is full-integer (per-channel weights, activations calibrated on ``calibration``
    crops); its input and output stay float32 so the 0-255 image and the heatmap peaks keep
    full precision, with one quantize/dequantize op at each end. The graph converted is
    :func:`deployment_graph`'s (``rewrites``: see there).
    """
    import tempfile

    import tensorflow as tf

    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"unknown quantize mode {quantize!r}; known: {', '.join(QUANTIZE_MODES)}")
    model = deployment_graph(model, "tflite", quantize, rewrites)
    with tempfile.TemporaryDirectory(prefix="danet_tflite_") as tmp:
        write_savedmodel(model, Path(tmp) / "sm", batch=1)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        configure_converter(converter, quantize, calibration)
        path.write_bytes(_convert(converter, quantize, calibration))


_QUANTIZER_NOTE = re.compile(r"^fully_quantize: \d+, inference_type: ")


def _convert(converter: Any, quantize: str, calibration: np.ndarray | None) -> bytes:
    """Convert; with float ops (``FLOAT_OPS``), through TFLite's selective quantization
    (`tf.lite.experimental.QuantizationDebugger` with a denylist)."""
    import tensorflow as tf

    float_ops = FLOAT_OPS.get(quantize)
    if not float_ops:
        # The quantizer's C++ note ("fully_quantize: 0, inference_type: 6, ...") says nothing
        # to a user of the export: kept off stderr, everything else passes.
        with filtered_fd(2, _QUANTIZER_NOTE):
            return converter.convert()
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(float_ops))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=lambda: _representative(calibration[:8]),
        debug_options=options,
    )
    return debugger.get_nondebug_quantized_model()


def configure_converter(converter: Any, quantize: str, calibration: np.ndarray | None) -> None:
    """Set a TFLite converter up for one quantization mode (shared with QAT)."""
    import tensorflow as tf

    if quantize == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize.startswith("int8"):
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 quantization needs calibration crops (--calib-data/--images)")
        converter.representative_dataset = lambda: _representative(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if quantize in FLOAT_OPS:  # the denylisted ops need the float kernels too
            converter.target_spec.supported_ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)


def _representative(crops: np.ndarray) -> Iterator[list[np.ndarray]]:
    for crop in crops:
        yield [np.asarray(crop, np.float32)[None]]


def write_onnx(model: Any, path: Path, opset: int = 17, rewrites: Any = None) -> None:
    """ONNX via tf2onnx with a dynamic batch; input ``image``, output ``heatmaps``; the graph
    is :func:`deployment_graph`'s."""
    import tensorflow as tf
    import tf2onnx

    model = deployment_graph(model, "onnx", "none", rewrites)
    h, w, c = model.input_shape[1:]
    spec = [tf.TensorSpec((None, h, w, c), tf.float32, name="image")]
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset, output_path=str(path))
