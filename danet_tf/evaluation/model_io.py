"""Model loading for evaluation: a saved ``.keras`` file or a freshly built registered model."""

from __future__ import annotations

from pathlib import Path

# the one HxW parser, TensorFlow-free for --help (re-exported: danet_tf.evaluation.parse_size)
from danet_edge.choices import parse_size  # noqa: F401
from danet_edge.codec import DEFAULT_STRIDE


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
    model with free spatial dims takes ``input_size`` (default 256x192).
    """
    in_shape = tuple(model.input_shape)
    fallback = input_size or (256, 192)
    h, w = in_shape[1] or fallback[0], in_shape[2] or fallback[1]
    if input_size is not None and (h, w) != tuple(input_size):
        raise ValueError(f"input size {input_size[0]}x{input_size[1]} but the model takes {h}x{w}")
    out_shape = model.output_shape
    if isinstance(out_shape, dict):
        out_shape = out_shape["heatmaps"]
    heatmap = (out_shape[1] or h // DEFAULT_STRIDE, out_shape[2] or w // DEFAULT_STRIDE)
    return (h, w), heatmap, int(out_shape[-1])
