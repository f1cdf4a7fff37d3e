"""The values the command-line parsers offer, declared once and TensorFlow-free.

The library modules that use them import them from here (``danet_tf.export.api.FORMATS``,
``danet_tf.export.converters.QUANTIZE_MODES``, ``danet_tf.benchmarks.deployment.RUNTIMES``,
``danet_tf.config.STRATEGIES``, ``danet_tf.evaluation.evaluate.METRICS`` and the two default
thresholds, ``danet_tf.evaluation.model_io.parse_size``), so that ``--help`` of every command
can list them without importing TensorFlow. The codec's ``DECODE_MODES`` and the evaluation
``PROTOCOLS`` are declared in the edge distribution (``danet_edge.choices``,
``danet_edge.topdown``). Standard library only.
"""

from __future__ import annotations

# danet_tf.export.api: artifact formats of export_model.
FORMATS = ("keras", "savedmodel", "tflite", "onnx")

# danet_tf.export.converters: TFLite quantization modes (see the comment there).
QUANTIZE_MODES = ("none", "fp16", "dynamic", "int8", "int8-float-dw", "int8-float-ew")

# danet_tf.benchmarks.deployment: benchmark runtime name -> (export format, quantize, xnnpack).
RUNTIMES = {
    "keras": ("keras", "none", None),
    "tflite-fp32-xnnpack": ("tflite", "none", True),
    "tflite-fp32-builtin": ("tflite", "none", False),
    "tflite-fp16-xnnpack": ("tflite", "fp16", True),
    "tflite-fp16-builtin": ("tflite", "fp16", False),
    "tflite-int8-xnnpack": ("tflite", "int8", True),
    "tflite-int8-builtin": ("tflite", "int8", False),
    "tflite-int8-float-dw-xnnpack": ("tflite", "int8-float-dw", True),
    "tflite-int8-float-dw-builtin": ("tflite", "int8-float-dw", False),
    "tflite-int8-float-ew-xnnpack": ("tflite", "int8-float-ew", True),
    "tflite-int8-float-ew-builtin": ("tflite", "int8-float-ew", False),
    "onnxruntime": ("onnx", "none", None),
}

# danet_tf.config: runtime.strategy.
STRATEGIES = ("auto", "default", "mirrored", "multiworker")

# danet_tf.evaluation.evaluate: metrics and the danet_tf protocol's default thresholds.
METRICS = ("auto", "coco", "pckh", "pck")
DEFAULT_NMS_THRESHOLD = 0.9
DEFAULT_RESCORE_THRESHOLD = 0.2


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` -> (256, 192) (height x width)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must look like 256x192 (height x width), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return h, w


def size_arg(text: str) -> tuple[int, int]:
    """:func:`parse_size` as an argparse ``type`` (a bad value is a usage error)."""
    import argparse

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
