"""The DANet training losses: masked heatmap MSE per level plus OHKM on the finest.

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

Two presets (``train.loss``):

- ``authors``: the DANet authors' ``calc_loss`` (MegEngine, ``models/danet.py``): each coarse
  level weighted 1/4 with the mask ``w`` restricted to visible joints (v = 2), the finest
  level supervised by OHKM alone (weight 1, every labelled joint inside the crop).
- ``danet_tf``: every level weighted 1 on every labelled joint, plus OHKM on the finest.
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


def default_level_weights(loss: str, num_levels: int) -> tuple[float, ...]:
    """The per-level weights of a preset, coarse to fine (the finest's is its plain MSE)."""
    if loss == "authors":
        return (0.25,) * (num_levels - 1) + (0.0,)
    if loss == "danet_tf":
        return (1.0,) * num_levels
    raise ValueError(f"train.loss: expected authors or danet_tf, got {loss!r}")


def pose_loss(
    targets: Mapping[str, tf.Tensor],
    outputs: Mapping[str, tf.Tensor],
    levels: Sequence[str],
    level_weights: Sequence[float],
    ohkm_weight: float = 1.0,
    ohkm_ratio: float = 0.5,
    target_scale: float = 1.0,
    coarse_visible_only: bool = False,
) -> dict[str, tf.Tensor]:
    """Per-sample loss terms and their weighted sum.

    Args:
        targets: ``{level: (N, H, W, K)}`` heatmaps plus ``"weights"`` (N, K) and, for
            ``coarse_visible_only``, ``"visible"`` (N, K): the weights of joints with v = 2.
        outputs: the multi-scale model's outputs ``{level: (N, H, W, K)}``.
        levels: supervised levels, coarse to fine; the last one also gets OHKM.
        level_weights: one weight per entry of ``levels``.
        ohkm_weight: weight of the OHKM term (0 disables it).
        ohkm_ratio: fraction of the joints OHKM keeps per sample.
        target_scale: the targets are multiplied by this (the model learns scaled maps).
        coarse_visible_only: mask every level but the last with ``"visible"`` (the authors'
            loss); the last level and OHKM keep ``"weights"``.

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
    if coarse_visible_only and "visible" not in targets:
        raise ValueError(f"coarse_visible_only needs targets['visible'], got {sorted(targets)}")
    terms: dict[str, tf.Tensor] = {}
    total = tf.zeros_like(tf.cast(weights[:, 0], tf.float32))
    per_joint = None
    for i, (level, lw) in enumerate(zip(levels, level_weights, strict=True)):
        target = targets[level]
        if target_scale != 1.0:
            target = tf.cast(target, tf.float32) * target_scale
        coarse = i < len(levels) - 1
        mask = targets["visible"] if coarse and coarse_visible_only else weights
        per_joint = joint_mse(target, outputs[level], mask)
        terms[f"loss_{level}"] = tf.reduce_mean(per_joint, axis=-1)
        total += float(lw) * terms[f"loss_{level}"]
    if ohkm_weight > 0 and per_joint is not None:
        terms["loss_ohkm"] = ohkm(per_joint, ohkm_topk(per_joint.shape[-1], ohkm_ratio))
        total += float(ohkm_weight) * terms["loss_ohkm"]
    terms["loss"] = total
    return terms
