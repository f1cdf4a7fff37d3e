"""Batch arithmetic: the global batch over the replicas, and the learning rate it goes with.

A config states the global batch (the paper's 256) and the learning rates of a reference
batch (``train.reference_batch_size``, 256 in every shipped COCO config). Each replica gets
``global / replicas`` samples, which must be a whole number. A run with another global batch
multiplies both learning rates by ``global / reference`` (``lr_scaling: linear``, the rule of
Goyal et al. 2017 that mmpose's ``auto_scale_lr`` applies to its Adam recipes too), by its
square root (``sqrt``, the rule Malladi et al. 2022 derive for Adam) or by 1 (``none``).
Linear is the default: it is the common rule, and it errs on the small side for the usual
deviation, fewer GPUs than the paper's eight.

This module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math

from danet_tf.config import LR_SCALING, TrainConfig


@dataclasses.dataclass(frozen=True)
class BatchPlan:
    global_batch: int
    replicas: int
    per_replica: int
    lr_factor: float  # learning rates = the config's x lr_factor
    learning_rate: float
    end_learning_rate: float

    def describe(self, cfg: TrainConfig) -> str:
        rule = {"linear": "x", "sqrt": "x sqrt of"}.get(cfg.lr_scaling)
        scaled = (f"{cfg.learning_rate:g} {rule} {self.global_batch}/{cfg.reference_batch_size}"
                  if rule and self.global_batch != cfg.reference_batch_size else None)
        lr = f"lr {self.learning_rate:g}" + (f" (= {scaled})" if scaled else "")
        return f"global batch {self.global_batch} = {self.replicas} replica(s) x {self.per_replica}, {lr}"


def lr_factor(global_batch: int, reference_batch: int, rule: str) -> float:
    """How much the learning rate of ``reference_batch`` grows for ``global_batch``."""
    if rule not in LR_SCALING:
        raise ValueError(f"train.lr_scaling: expected one of {list(LR_SCALING)}, got {rule!r}")
    ratio = global_batch / reference_batch
    return {"linear": ratio, "sqrt": math.sqrt(ratio), "none": 1.0}[rule]


def batch_plan(cfg: TrainConfig, replicas: int) -> BatchPlan:
    """Per-replica batch and scaled learning rates of ``cfg`` on ``replicas`` replicas.

    Raises ``ValueError`` naming ``train.global_batch_size`` when the replicas do not divide it.
    """
    if replicas < 1:
        raise ValueError(f"replicas: expected >= 1, got {replicas!r}")
    g = cfg.global_batch_size
    if g % replicas:
        lower, upper = max(replicas, g // replicas * replicas), (g // replicas + 1) * replicas
        raise ValueError(
            f"train.global_batch_size: {g} is not divisible by the {replicas} replicas; "
            f"use a multiple of {replicas} (e.g. {lower} or {upper})"
        )
    factor = lr_factor(g, cfg.reference_batch_size, cfg.lr_scaling)
    return BatchPlan(g, replicas, g // replicas, factor, cfg.learning_rate * factor,
                     cfg.end_learning_rate * factor)
