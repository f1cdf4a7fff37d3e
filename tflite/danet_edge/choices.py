"""The values the command lines of both distributions offer, declared once, standard library
only (so ``--help`` of every command lists them without importing numpy or TensorFlow).

The codec and the top-down predictor import ``DECODE_MODES`` and ``PROTOCOLS`` from here; the
``danet_tf`` library imports the rest (``danet_tf.export.api.FORMATS``,
``danet_tf.export.converters.QUANTIZE_MODES``, ``danet_tf.benchmarks.deployment.RUNTIMES``,
``danet_tf.config.STRATEGIES``, ``danet_tf.evaluation.METRICS`` and the two default
thresholds, ``danet_tf.evaluation.parse_size``); the command-line package ``danet_tools``
imports them too, and the library never imports the command-line package.
"""

from __future__ import annotations

DECODE_MODES = ("shift", "blur_shift", "dark")
# The crop size (height, width) of the paper's COCO models: the one default every model,
# codec, config and command line takes when none is given.
DEFAULT_INPUT_SIZE = (256, 192)
PROTOCOLS = ("danet_tf", "authors")

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
