"""Batched heatmap targets in the TensorFlow graph, bit-for-bit the codec's encoding.

`HeatmapCodec.encode` (numpy) holds the GIL for ~0.4 ms per person and level, which made it
the bottleneck of the input pipeline (4 levels at 64x48: 1.7 ms of the 4.5 ms per sample
on the 2-core machine). The same formula on a whole batch in the graph runs in TF's C++
thread pool instead. The conventions are the codec's (see `danet_tf.codec`): cell centre
``u = (x + 0.5) / stride - 0.5``, unnormalised Gaussian with peak 1, zero map and weight 0
for unlabelled joints and joints outside the crop; ``visible`` is the weight of the joints
labelled visible (v = 2), which the authors' loss uses at the coarse levels.
`tests/data/test_data_targets.py`
checks equality with `HeatmapCodec.encode`, so the two cannot drift apart silently.
"""

from __future__ import annotations

import tensorflow as tf

from danet_edge.codec import HeatmapCodec


def keypoint_weights(keypoints: tf.Tensor, input_size: tuple[int, int]) -> tf.Tensor:
    """(B, K) float32: 1 for labelled joints inside the crop, else 0 (the codec's rule)."""
    in_h, in_w = input_size
    x, y, v = keypoints[..., 0], keypoints[..., 1], keypoints[..., 2]
    inside = (x >= -0.5) & (x < in_w - 0.5) & (y >= -0.5) & (y < in_h - 0.5)
    finite = tf.math.is_finite(x) & tf.math.is_finite(y)
    return tf.cast((v > 0) & inside & finite, tf.float32)


def encode_heatmaps(keypoints: tf.Tensor, codec: HeatmapCodec) -> dict[str, tf.Tensor]:
    """Keypoints (B, K, 3) in crop pixels -> {level: (B, h, w, K)} for each level of
    ``codec.level_sigmas``, ``weights`` and ``visible`` (B, K)."""
    in_h, in_w = codec.input_size
    h, w = codec.heatmap_size
    weights = keypoint_weights(keypoints, codec.input_size)
    valid = weights > 0
    zero = tf.zeros_like(keypoints[..., 0])
    mx = (tf.where(valid, keypoints[..., 0], zero) + 0.5) / (in_w / w) - 0.5  # (B, K)
    my = (tf.where(valid, keypoints[..., 1], zero) + 0.5) / (in_h / h) - 0.5
    dx2 = tf.square(tf.range(w, dtype=tf.float32)[None, :, None] - mx[:, None, :])  # (B, w, K)
    dy2 = tf.square(tf.range(h, dtype=tf.float32)[None, :, None] - my[:, None, :])  # (B, h, K)
    out = {}
    for level, sigma in codec.level_sigmas.items():
        gx = tf.exp(-dx2 / (2.0 * float(sigma) ** 2)) * weights[:, None, :]
        gy = tf.exp(-dy2 / (2.0 * float(sigma) ** 2))
        out[level] = gy[:, :, None, :] * gx[:, None, :, :]
    out["weights"] = weights
    out["visible"] = visible_weights(keypoints, weights)
    return out


def visible_weights(keypoints: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """(B, K) float32: ``weights`` of the joints labelled visible (v = 2), else 0."""
    return weights * tf.cast(keypoints[..., 2] > 1.5, tf.float32)
