"""Quantization-aware training with tensorflow-model-optimization, then an int8 TFLite file.

tfmot rejects Keras 3 models, and importing it switches ``tf.keras`` to Keras 2 for the
whole process (``TF_USE_LEGACY_KERAS``). So QAT runs in a child process
(``python -m danet_tf.export.qat``) that: loads the Keras 3 model, rebuilds it in
``tf_keras`` with standard layers (``danet_tf.models.flatten.rebuild``, with the export
rewrite QAT can train through: large depthwise convolutions as 5x5 tiles,
``rewrites.DeployOps`` with ``EXPORT_REWRITES["tflite-qat"]``), annotates every layer
(the default 8-bit registry where it knows the layer, an output-only 8-bit ``QuantizeConfig``
for the rest: Multiply, Normalization, Rescaling, ...), fine-tunes for N epochs and converts.

Fine-tuning distils the float model: the targets are the float model's own heatmaps on the
calibration crops. With a few dozen crops this adapts the weights to the quantizers without
drifting from what the float model learned (labels would overfit so small a set).
BatchNormalization stays frozen (inference mode) for the same reason.

Before fine-tuning, every quantization range is calibrated on the crops
(:func:`_calibrate_ranges`). tfmot starts each activation range at [-6, 6] and moves it by an
exponential average with decay 0.999 per training step, so after the few hundred steps of a
fine-tune the ranges were still mostly tfmot's guess: an int8 step of about 0.05 on heatmaps
that peak at 1 (an earlier stage of the shipped preset agreed with float32 at a mean OKS of
0.722 after two epochs on 500 crops; with calibrated ranges see docs/deployment.md, QAT).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from danet_tf.data.calibration import CropSet

QAT_LEARNING_RATE = 1e-5  # Adam; the weights are trained, QAT only adapts them to the quantizers


def write_qat_tflite(
    model: Any, path: Path, calibration: CropSet | None, epochs: int, batch_size: int = 8,
    learning_rate: float | None = None,
) -> None:
    """Fine-tune ``model`` with QAT for ``epochs`` on ``calibration`` crops (Adam at
    ``learning_rate``, None: ``QAT_LEARNING_RATE``); write int8 TFLite."""
    from danet_tf.export.runners import keras_predict

    if calibration is None or len(calibration) == 0:
        raise ValueError("QAT needs real person crops to fine-tune on (calibration)")
    if epochs < 1:
        raise ValueError(f"qat epochs must be >= 1, got {epochs!r}")
    learning_rate = QAT_LEARNING_RATE if learning_rate is None else learning_rate
    if not learning_rate > 0:
        raise ValueError(f"qat learning rate must be > 0, got {learning_rate!r}")
    with tempfile.TemporaryDirectory(prefix="danet_qat_") as tmp:
        source, data = Path(tmp) / "source.keras", Path(tmp) / "data.npz"
        model.save(str(source))
        targets = keras_predict(model)(calibration.images)
        np.savez(data, images=calibration.images, targets=targets)
        cmd = [sys.executable, "-m", "danet_tf.export.qat", str(source), str(data), str(path)]
        cmd += ["--epochs", str(epochs), "--batch-size", str(batch_size)]
        cmd += ["--learning-rate", repr(float(learning_rate))]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not path.is_file():
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
            raise RuntimeError(f"QAT child process failed (exit {result.returncode}):\n{tail}")
        print("\n".join(line for line in result.stdout.splitlines() if line.startswith("qat:")))


def _annotated(functional: Any, tfmot: Any) -> Any:
    """Annotate every layer of a tf_keras functional model for QAT."""
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_lib,
    )

    registry = registry_lib.Default8BitQuantizeRegistry()
    annotate = tfmot.quantization.keras.quantize_annotate_layer

    def clone(layer):
        config = layer.get_config()
        copy = layer.__class__.from_config(config)
        if isinstance(layer, tf_keras.layers.InputLayer):
            return copy
        if registry.supports(layer):
            return annotate(copy)
        return annotate(copy, quantize_config=OutputQuantizeConfig())

    annotated = tf_keras.models.clone_model(functional, clone_function=clone)
    annotated.set_weights(functional.get_weights())
    return annotated


def _quantize_config_class() -> type:
    import tensorflow_model_optimization as tfmot

    quantizers = tfmot.quantization.keras.quantizers

    class _OutputQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """8-bit quantization of a layer's output only (the layer has no weights to quantize)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [
                quantizers.MovingAverageQuantizer(
                    8, per_axis=False, symmetric=False, narrow_range=False
                )
            ]

        def get_config(self):
            return {}

    return _OutputQuantizeConfig


OutputQuantizeConfig: Any = None


def _calibrate_ranges(qat: Any, images: np.ndarray, batch_size: int) -> int:
    """Set every quantization range of ``qat`` from ``images``; return the ranges set.

    Each range starts at 0 and sees every batch once, in training mode: an input range
    (tfmot's all-values quantizer) becomes the min / max over all crops, an activation range
    (moving-average quantizer) the mean of the batches' min / max, because its decay is
    i / (i + 1) at batch i here instead of tfmot's 0.999 from [-6, 6]. Weight ranges are
    recomputed from the weights at every training step anyway.
    """
    import tensorflow as tf
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    ranges = [
        w for w in qat.non_trainable_weights
        if w.name.split(":")[0].endswith(("_min", "_max"))
    ]  # fmt: skip
    for w in ranges:
        w.assign(tf.zeros_like(w))
    decay = tf.Variable(0.0, trainable=False, dtype=tf.float32)
    moving = quant_ops.MovingAvgQuantize

    def running_mean(*args, **kwargs):
        kwargs["ema_decay"] = decay
        return moving(*args, **kwargs)

    quant_ops.MovingAvgQuantize = running_mean  # looked up at trace time by tfmot's quantizer
    try:
        step = tf.function(lambda x: qat(x, training=True))
        for i, start in enumerate(range(0, len(images), batch_size)):
            decay.assign(i / (i + 1))
            step(tf.constant(images[start : start + batch_size]))
    finally:
        quant_ops.MovingAvgQuantize = moving
    return len(ranges)


def _child(argv: list[str]) -> None:
    global OutputQuantizeConfig
    parser = argparse.ArgumentParser(prog="python -m danet_tf.export.qat")
    parser.add_argument("source")
    parser.add_argument("data")
    parser.add_argument("output")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=QAT_LEARNING_RATE)
    args = parser.parse_args(argv)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # what importing tfmot does anyway; say it first
    import time

    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from danet_tf.export.converters import configure_converter
    from danet_tf.export.rewrites import EXPORT_REWRITES, DeployOps
    from danet_tf.export.runners import load_keras
    from danet_tf.models.flatten import rebuild

    started = time.perf_counter()
    OutputQuantizeConfig = _quantize_config_class()
    data = np.load(args.data)
    images, targets = data["images"], data["targets"]
    ops = DeployOps(EXPORT_REWRITES["tflite-qat"], K=tf_keras)
    functional = rebuild(load_keras(args.source), ops, tf_keras)
    for layer in functional.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
    with tfmot.quantization.keras.quantize_scope({"_OutputQuantizeConfig": OutputQuantizeConfig}):
        qat = tfmot.quantization.keras.quantize_apply(_annotated(functional, tfmot))
    print(f"qat: annotated and quantized the graph ({time.perf_counter() - started:.0f} s)")
    count = _calibrate_ranges(qat, images, args.batch_size)
    print(f"qat: calibrated {count} ranges on {len(images)} crops "
          f"({time.perf_counter() - started:.0f} s)")
    qat.compile(optimizer=tf_keras.optimizers.Adam(args.learning_rate), loss="mse")
    history = qat.fit(images, targets, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    losses = ", ".join(f"{v:.3g}" for v in history.history["loss"])
    print(
        f"qat: fine-tuned {args.epochs} epoch(s) on {len(images)} crops, distillation loss "
        f"{losses} ({time.perf_counter() - started:.0f} s)"
    )
    # Batch 1, as every TFLite export: with a dynamic batch the transposed convolutions'
    # output shapes are computed at run time (SHAPE, STRIDED_SLICE, PACK), ops XNNPACK does
    # not take, so the graph would run in several pieces.
    spec = tf.TensorSpec((1, *qat.input_shape[1:]), tf.float32)
    concrete = tf.function(lambda x: qat(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], qat)
    configure_converter(converter, "int8", images)
    Path(args.output).write_bytes(converter.convert())
    print(f"qat: converted to int8 TFLite ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    _child(sys.argv[1:])
