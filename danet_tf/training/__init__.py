"""Training: the DANet losses, batch arithmetic, the linear-decay schedule, strategies and the
resumable loop."""

from danet_tf.training.batching import BatchPlan, batch_plan
from danet_tf.training.losses import default_level_weights, joint_mse, ohkm, ohkm_topk, pose_loss
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.strategy import make_strategy
from danet_tf.training.trainer import TrainResult, resolve_workdir, train

__all__ = [
    "BatchPlan",
    "LinearDecay",
    "TrainResult",
    "batch_plan",
    "build_optimizer",
    "default_level_weights",
    "joint_mse",
    "make_strategy",
    "ohkm",
    "ohkm_topk",
    "pose_loss",
    "resolve_workdir",
    "train",
]
