"""Learning-rate schedule and optimizer construction."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from danet_tf.config import TrainConfig


@keras.saving.register_keras_serializable(package="danet_tf")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Optional linear warm-up, then linear decay from ``initial`` to ``end`` at ``total_steps``.

    The paper trains with Adam at 3e-4 decaying linearly to 0 at the end of training. The
    rate depends only on the optimizer's step counter, so restoring the optimizer from a
    checkpoint restores the schedule too.

    Args:
        initial_learning_rate: rate after warm-up.
        total_steps: step at which the rate reaches ``end_learning_rate`` (and stays).
        end_learning_rate: final rate.
        warmup_steps: steps of linear warm-up from 0 (0: none).
    """

    def __init__(
        self,
        initial_learning_rate: float,
        total_steps: int,
        end_learning_rate: float = 0.0,
        warmup_steps: int = 0,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps: expected >= 1, got {total_steps!r}")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"warmup_steps: expected 0 <= warmup_steps < total_steps ({total_steps}), "
                f"got {warmup_steps!r}"
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: Any) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        lr0, lr1 = self.initial_learning_rate, self.end_learning_rate
        decay_steps = float(self.total_steps - self.warmup_steps)
        frac = tf.clip_by_value((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        decayed = lr0 + (lr1 - lr0) * frac
        if self.warmup_steps:
            warm = lr0 * (step + 1.0) / float(self.warmup_steps)
            return tf.where(step < self.warmup_steps, warm, decayed)
        return decayed

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
            "warmup_steps": self.warmup_steps,
        }


def build_optimizer(cfg: TrainConfig, total_steps: int, lr_factor: float = 1.0
                    ) -> keras.optimizers.Optimizer:
    """Adam (or AdamW) on the linear-decay schedule described by ``cfg``.

    ``lr_factor`` multiplies both rates (`danet_tf.training.batching.batch_plan` gives it for
    the run's global batch).
    """
    schedule = LinearDecay(
        cfg.learning_rate * lr_factor, total_steps, cfg.end_learning_rate * lr_factor,
        min(cfg.warmup_steps, total_steps - 1),
    )
    kwargs: dict[str, Any] = {"learning_rate": schedule, "epsilon": cfg.adam_epsilon}
    if cfg.clipnorm is not None:
        kwargs["clipnorm"] = cfg.clipnorm
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **kwargs)
    if cfg.weight_decay:
        raise ValueError(
            f"train.weight_decay: Adam has no decoupled weight decay (use optimizer: adamw), "
            f"got {cfg.weight_decay!r}"
        )
    return keras.optimizers.Adam(**kwargs)
