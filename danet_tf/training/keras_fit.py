"""The DANet loss as a ``keras.losses.Loss``, for ``model.fit`` on the training pipeline.

Keras applies one ``Loss`` per model output, but the DANet loss couples the levels (OHKM on
the finest, per-joint masks shared by all). So ``model.fit`` trains `stacked_model` (the
multi-scale model with its level outputs concatenated on the channel axis, one output) with
`PoseLoss` on targets packed the same way by `fit_dataset`: the level heatmaps, then the
``weights`` and ``visible`` masks broadcast over the heatmap. `PoseLoss` unpacks them and
calls the same `danet_tf.training.losses.pose_loss` as the training loop, so both optimise the
same number (`tests/training/test_keras_fit.py` checks that).

docs/training.md ("model.fit") shows the whole recipe; `danet_tf.training.train` stays the
way to run the paper's recipe (step-exact resume, several workers, the work directory).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from danet_edge.codec import HeatmapCodec
from danet_tf.config import Config
from danet_tf.data.targets import encode_heatmaps
from danet_tf.training.losses import pose_loss


@keras.saving.register_keras_serializable(package="danet_tf")
class PoseLoss(keras.losses.Loss):
    """``pose_loss`` on packed tensors: per-sample totals, averaged over the batch by Keras.

    Args:
        levels: supervised levels, coarse to fine (the order of the packed channels).
        level_weights: one weight per level.
        num_keypoints: K.
        ohkm_weight, ohkm_ratio, target_scale, coarse_visible_only: as ``pose_loss``.
    """

    def __init__(self, levels: Sequence[str], level_weights: Sequence[float], num_keypoints: int,
                 ohkm_weight: float = 1.0, ohkm_ratio: float = 0.5, target_scale: float = 1.0,
                 coarse_visible_only: bool = False, name: str = "pose_loss",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.levels = tuple(levels)
        self.level_weights = tuple(float(w) for w in level_weights)
        self.num_keypoints = int(num_keypoints)
        self.ohkm_weight = float(ohkm_weight)
        self.ohkm_ratio = float(ohkm_ratio)
        self.target_scale = float(target_scale)
        self.coarse_visible_only = bool(coarse_visible_only)

    @classmethod
    def from_training_config(cls, cfg: Config, levels: Sequence[str], num_keypoints: int
                             ) -> PoseLoss:
        from danet_tf.training.trainer import resolve_level_weights

        return cls(levels, resolve_level_weights(cfg, tuple(levels)), num_keypoints,
                   cfg.train.ohkm_weight, cfg.train.ohkm_ratio, cfg.train.target_scale,
                   cfg.train.loss == "authors")

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        k = self.num_keypoints
        n = len(self.levels)
        targets = {lvl: y_true[..., i * k:(i + 1) * k] for i, lvl in enumerate(self.levels)}
        targets["weights"] = y_true[:, 0, 0, n * k:(n + 1) * k]
        targets["visible"] = y_true[:, 0, 0, (n + 1) * k:(n + 2) * k]
        outputs = {lvl: y_pred[..., i * k:(i + 1) * k] for i, lvl in enumerate(self.levels)}
        return pose_loss(targets, outputs, self.levels, self.level_weights, self.ohkm_weight,
                         self.ohkm_ratio, self.target_scale, self.coarse_visible_only)["loss"]

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {
            "levels": list(self.levels), "level_weights": list(self.level_weights),
            "num_keypoints": self.num_keypoints, "ohkm_weight": self.ohkm_weight,
            "ohkm_ratio": self.ohkm_ratio, "target_scale": self.target_scale,
            "coarse_visible_only": self.coarse_visible_only,
        }


def stacked_model(model: keras.Model, levels: Sequence[str]) -> keras.Model:
    """The multi-scale ``model`` with one output: its ``levels`` concatenated on channels.

    Shares the layers (and weights) of ``model``; `danet_tf.models.inference_model(model)`
    is the single-heatmap model to save after fitting.
    """
    by_name = dict(zip(model.output_names, model.outputs, strict=True))
    stacked = keras.layers.Concatenate(axis=-1, name="levels")([by_name[lvl] for lvl in levels])
    return keras.Model(model.inputs, stacked, name=f"{model.name}_stacked")


def pack_targets(targets: dict[str, tf.Tensor], levels: Sequence[str]) -> tf.Tensor:
    """``{level: (B, h, w, K), "weights": (B, K), "visible": (B, K)}`` -> (B, h, w, (L+2) K)."""
    first = targets[levels[0]]
    shape = tf.shape(first)

    def plane(mask: tf.Tensor) -> tf.Tensor:
        return tf.broadcast_to(mask[:, None, None, :], shape)

    return tf.concat([targets[lvl] for lvl in levels]
                     + [plane(targets["weights"]), plane(targets["visible"])], axis=-1)


def fit_dataset(dataset: tf.data.Dataset, codec: HeatmapCodec, levels: Sequence[str]
                ) -> tf.data.Dataset:
    """The training pipeline's ``(uint8 images, {"keypoints", "weights"})`` batches as
    ``(float32 images, packed targets)`` for ``model.fit`` with `PoseLoss`, the targets of
    ``levels`` rendered by the run's ``codec`` (`danet_tf.training.trainer.run_codec`)."""
    missing = [lvl for lvl in levels if lvl not in codec.level_sigmas]
    if missing:
        raise ValueError(f"the codec has no target sigma for levels {missing}")

    def to_fit(images, targets):
        if "keypoints" in targets:
            targets = encode_heatmaps(targets["keypoints"], codec)
        return tf.cast(images, tf.float32), pack_targets(targets, levels)

    return dataset.map(to_fit, num_parallel_calls=tf.data.AUTOTUNE)
