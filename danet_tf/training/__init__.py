"""Training: the DANet loss, the linear-decay schedule, strategies and the resumable loop."""

from danet_tf.training.losses import joint_mse, ohkm, ohkm_topk, pose_loss
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.strategy import make_strategy
from danet_tf.training.trainer import TrainResult, resolve_workdir, train

__all__ = [
    "LinearDecay",
    "TrainResult",
    "build_optimizer",
    "joint_mse",
    "make_strategy",
    "ohkm",
    "ohkm_topk",
    "pose_loss",
    "resolve_workdir",
    "train",
]
