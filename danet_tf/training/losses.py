"""The DANet training loss: masked heatmap MSE on every level plus OHKM on the finest.

All functions return *per-sample* losses of shape ``(N,)`` in float32 so that a
distribution strategy can average them over the global batch
(``tf.nn.compute_average_loss``); predictions are cast to float32 first, so the loss is
float32 under mixed precision too.

Per joint ``k`` of sample ``n`` the masked MSE is
``l[n, k] = w[n, k] * mean_{h, w}(pred[n, h, w, k] - target[n, h, w, k]) ** 2``
with ``w`` the per-joint target weight (0 for unlabelled joints). A level's loss is the mean
of ``l`` over joints; online hard keypoint mining (OHKM) is the mean of the ``top_k`` largest
``l[n, :]`` of each sample, ``top_k = max(1, round(ratio * K))`` (8 of 17 COCO joints, as in
the reference code).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf


def joint_mse(target: tf.Tensor, pred: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Masked per-joint MSE: target, pred (N, H, W, K), weights (N, K) -> (N, K) float32."""
    target = tf.cast(target, tf.float32)
    pred = tf.cast(pred, tf.float32)
    weights = tf.cast(weights, tf.float32)
    return tf.reduce_mean(tf.square(pred - target), axis=(1, 2)) * weights


def ohkm_topk(num_keypoints: int, ratio: float = 0.5) -> int:
    """How many of ``num_keypoints`` joints OHKM keeps per sample."""
    return max(1, min(num_keypoints, int(round(ratio * num_keypoints - 1e-9))))


def ohkm(per_joint: tf.Tensor, top_k: int) -> tf.Tensor:
    """Mean of the ``top_k`` largest per-joint losses of each sample: (N, K) -> (N,)."""
    hardest, _ = tf.math.top_k(per_joint, k=top_k, sorted=False)
    return tf.reduce_mean(hardest, axis=-1)


def pose_loss(
    targets: Mapping[str, tf.Tensor],
    outputs: Mapping[str, tf.Tensor],
    levels: Sequence[str],
    level_weights: Sequence[float],
    ohkm_weight: float = 1.0,
    ohkm_ratio: float = 0.5,
    target_scale: float = 1.0,
) -> dict[str, tf.Tensor]:
    """Per-sample loss terms and their weighted sum.

    Args:
        targets: ``{level: (N, H, W, K)}`` heatmaps plus ``"weights"`` (N, K).
        outputs: the multi-scale model's outputs ``{level: (N, H, W, K)}``.
        levels: supervised levels, coarse to fine; the last one also gets OHKM.
        level_weights: one weight per entry of ``levels``.
        ohkm_weight: weight of the OHKM term (0 disables it).
        ohkm_ratio: fraction of the joints OHKM keeps per sample.
        target_scale: the targets are multiplied by this (the model learns scaled maps).

    Returns:
        ``{"loss": (N,), "loss_<level>": (N,), ..., "loss_ohkm": (N,)}``, all float32.
    """
    if len(levels) != len(level_weights):
        raise ValueError(
            f"level_weights: expected {len(levels)} values (one per level {list(levels)}), "
            f"got {list(level_weights)}"
        )
    missing = [lvl for lvl in levels if lvl not in outputs or lvl not in targets]
    if missing:
        raise ValueError(
            f"levels {missing} missing from outputs {sorted(outputs)} or targets {sorted(targets)}"
        )
    weights = targets["weights"]
    terms: dict[str, tf.Tensor] = {}
    total = tf.zeros_like(tf.cast(weights[:, 0], tf.float32))
    per_joint = None
    for level, lw in zip(levels, level_weights, strict=True):
        target = targets[level]
        if target_scale != 1.0:
            target = tf.cast(target, tf.float32) * target_scale
        per_joint = joint_mse(target, outputs[level], weights)
        terms[f"loss_{level}"] = tf.reduce_mean(per_joint, axis=-1)
        total += float(lw) * terms[f"loss_{level}"]
    if ohkm_weight > 0 and per_joint is not None:
        terms["loss_ohkm"] = ohkm(per_joint, ohkm_topk(per_joint.shape[-1], ohkm_ratio))
        total += float(ohkm_weight) * terms["loss_ohkm"]
    terms["loss"] = total
    return terms
