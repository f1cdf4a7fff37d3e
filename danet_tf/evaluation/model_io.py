"""What evaluation runs: a model file or a registered model, as crops -> heatmaps plus its
codec (`EvalModel`). Exported artifacts load through the one top-down loader
(`danet_tf.export.runners.load_topdown`, the runners the device uses), Keras models through
the one Keras loader (`danet_tf.models.resolve_model`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# the one HxW parser, TensorFlow-free for --help (re-exported: danet_tf.evaluation.parse_size)
from danet_edge.choices import DEFAULT_INPUT_SIZE, parse_size  # noqa: F401
from danet_edge.codec import DEFAULT_STRIDE
from danet_tf.codec import HeatmapCodec
from danet_tf.evaluation.inference import PredictFn


@dataclass
class EvalModel:
    """What evaluation needs of a model: the crops -> heatmaps function and the codec it was
    trained with (read from the model file: crop size and padding, decoding, flip test).

    ``input_mean`` is the model's input mean (R, G, B), the authors' protocol's crop border.
    """

    predict_fn: PredictFn
    codec: HeatmapCodec
    num_keypoints: int
    input_mean: Sequence[float] | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        return self.codec.input_size

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.codec.heatmap_size


def load_eval_model(
    name: str | None,
    weights: str | Path | None,
    *,
    input_size: tuple[int, int] | None = None,
    num_keypoints: int = 17,
) -> EvalModel:
    """The model ``danet-eval`` scores: a ``.keras`` file (``weights``, or ``name`` as a
    path), an exported artifact (``.tflite`` of any quantisation, ``.onnx``, a SavedModel
    directory: the file a user ships, run by the same runners as on the device) or a
    registered model built with random weights (``name``). ``input_size`` (h, w) must match a
    model with a fixed input; it sizes a built one (default: the model's). The codec is the
    one the file records (a training run's ``.keras`` and every export carry theirs), else
    the codec's defaults."""
    from danet_tf.evaluation.inference import keras_predict_fn
    from danet_tf.export.api import model_codec, recorded_codec
    from danet_tf.models import input_normalization
    from danet_tf.models.loading import is_model_file

    artifact = next((str(v) for v in (weights, name) if v is not None and _is_artifact(v)), None)
    if artifact is not None:
        return _artifact_eval_model(artifact, input_size)
    model = load_pose_model(name, weights, input_size=input_size, num_keypoints=num_keypoints)
    in_size, heatmap_size, k = model_io_shapes(model, input_size)
    source = weights if weights is not None else (name if name and is_model_file(name) else None)
    # the codec the file records (checked against the model's input), else the defaults
    recorded = recorded_codec(source) is not None
    codec = model_codec(model, source) if recorded else HeatmapCodec(in_size, heatmap_size)
    try:
        mean = input_normalization(model)[0]
    except ValueError:  # not a danet_tf model: no known input mean
        mean = None
    return EvalModel(keras_predict_fn(model), codec, k, mean)


def _is_artifact(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() in (".tflite", ".onnx") or (path / "saved_model.pb").is_file()


def _artifact_eval_model(path: str, input_size: tuple[int, int] | None) -> EvalModel:
    """An exported file through the top-down loader; K and the codec are its metadata's
    (``num_keypoints`` sizes built models only)."""
    from danet_tf.export.runners import load_topdown

    predictor = load_topdown(path)
    in_size = predictor.codec.input_size
    if input_size is not None and tuple(input_size) != in_size:
        raise ValueError(f"{path} has input size {in_size[0]}x{in_size[1]}, not the requested "
                         f"{input_size[0]}x{input_size[1]}")  # fmt: skip
    mean = (predictor.metadata["input"].get("normalization") or {}).get("mean")
    return EvalModel(predictor.predict, predictor.codec, len(predictor.names), mean)


def load_pose_model(
    name: str | None,
    weights: str | Path | None,
    *,
    input_size: tuple[int, int] | None = None,
    num_keypoints: int = 17,
):
    """Load ``weights`` (.keras) or, without weights, build ``name`` with random weights at
    ``input_size`` (default: the model's) (:func:`danet_tf.models.resolve_model`: the one
    loader every tool uses)."""
    from danet_tf.models.loading import resolve_model

    if weights is not None and not Path(weights).exists():
        raise FileNotFoundError(f"weights file {str(weights)!r} does not exist")
    if weights is not None and str(weights).endswith(".keras"):
        return resolve_model(None, weights)
    return resolve_model(name, weights, input_size=input_size, num_keypoints=num_keypoints)


def model_io_shapes(
    model, input_size: tuple[int, int] | None = None
) -> tuple[tuple[int, int], tuple[int, int], int]:
    """(input (h, w), heatmap (h, w), K) of a model.

    A model with a fixed input size must agree with ``input_size`` when one is given; a
    model with free spatial dims takes ``input_size`` (default ``DEFAULT_INPUT_SIZE``).
    """
    in_shape = tuple(model.input_shape)
    fallback = input_size or DEFAULT_INPUT_SIZE
    h, w = in_shape[1] or fallback[0], in_shape[2] or fallback[1]
    if input_size is not None and (h, w) != tuple(input_size):
        raise ValueError(f"input size {input_size[0]}x{input_size[1]} but the model takes {h}x{w}")
    out_shape = model.output_shape
    if isinstance(out_shape, dict):
        out_shape = out_shape["heatmaps"]
    heatmap = (out_shape[1] or h // DEFAULT_STRIDE, out_shape[2] or w // DEFAULT_STRIDE)
    return (h, w), heatmap, int(out_shape[-1])
