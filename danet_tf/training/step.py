"""One optimizer step of the training loop, and its guard against non-finite numbers."""

from __future__ import annotations

import keras
import tensorflow as tf

from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config
from danet_tf.data.targets import encode_heatmaps
from danet_tf.training.losses import pose_loss


class NonFiniteError(FloatingPointError):
    """The loss or the weights stopped being finite; nothing non-finite was written."""


def all_finite(variables) -> bool:
    for v in variables:
        if "float" in str(v.dtype) and not bool(
                tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v)))):
            return False
    return True


def likely_cause(what: str, lr: float, step: int, first_step: bool, cfg: Config) -> str:
    if lr > 1.0:
        return (f"the learning rate {lr:g} is far too high (train.learning_rate "
                f"{cfg.train.learning_rate:g} at the reference batch)")
    if what == "gradient":
        return ("the gradients overflowed: lower the learning rate or set train.clipnorm")
    if first_step and step == 1:
        return ("non-finite at the very first step: check the input data and targets "
                "(train.target_scale) and, with --mixed-precision, float16 overflow")
    return ("the run diverged: lower the learning rate (train.learning_rate "
            f"{cfg.train.learning_rate:g}), set train.clipnorm, or train in float32")


def make_train_step(strategy, model, optimizer, step_var, levels, level_weights, cfg,
                     global_batch, codec: HeatmapCodec | None = None, check_grads=True):
    """One optimizer step per call on the next batch of ``iterator``.

    Batches are ``(images, targets)``: images uint8 or float32 (cast here), targets either
    heatmaps ``{level: ..., "weights": ...}`` or, as the input pipeline sends them,
    ``{"keypoints": (B, K, 3), "weights": ...}``, rendered here on the replica's device
    with ``codec`` (`danet_tf.data.targets.encode_heatmaps`): that keeps the
    Gaussians off the input pipeline's CPU and 4 levels of heatmaps (835 KB per 256x192
    sample) out of the host-to-device copy. Also returns ``grad_norm`` (the global norm of
    the gradients; 0 when ``check_grads`` is off), so a non-finite gradient stops the run.
    """
    scale_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def step_fn(images, targets):
        images = tf.cast(images, tf.float32)
        targets = dict(targets)
        serial = targets.pop("serial", None)
        if "keypoints" in targets:
            if codec is None:
                raise ValueError("keypoint targets need the run's codec to render heatmaps")
            targets = encode_heatmaps(targets["keypoints"], codec)
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            terms = pose_loss(targets, outputs, levels, level_weights, cfg.train.ohkm_weight,
                              cfg.train.ohkm_ratio, cfg.train.target_scale,
                              coarse_visible_only=cfg.train.loss == "authors")
            loss = tf.nn.compute_average_loss(terms["loss"], global_batch_size=global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss) if scale_loss else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        step_var.assign_add(1)
        out = {k: tf.nn.compute_average_loss(v, global_batch_size=global_batch)
               for k, v in terms.items()}
        norm = tf.linalg.global_norm([g for g in grads if g is not None]) if check_grads \
            else tf.constant(0.0)
        # Summed over replicas below: divide so the sum is the mean of the replicas' norms.
        out["grad_norm"] = tf.cast(norm, tf.float32) / strategy.num_replicas_in_sync
        last = tf.constant(-1, tf.int64) if serial is None else tf.reduce_max(serial)
        return out, last

    @tf.function
    def train_step(iterator):
        images, targets = next(iterator)
        per_replica, last = strategy.run(step_fn, args=(images, targets))
        out = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
               for k, v in per_replica.items()}
        # This worker's pipeline: the last element its replicas were served (-1: unknown).
        out["serial"] = tf.reduce_max(tf.stack(strategy.experimental_local_results(last)))
        return out

    return train_step
