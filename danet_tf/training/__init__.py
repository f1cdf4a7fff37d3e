"""Training: the DANet losses, batch arithmetic, the linear-decay schedule, strategies, the
resumable loop, and the loss as a ``keras.losses.Loss`` for ``model.fit``."""

from danet_tf.training.batching import BatchPlan, batch_plan
from danet_tf.training.checkpoints import CheckpointError
from danet_tf.training.final import unscaled_inference_model
from danet_tf.training.keras_fit import PoseLoss, fit_dataset, stacked_model
from danet_tf.training.losses import default_level_weights, joint_mse, ohkm, ohkm_topk, pose_loss
from danet_tf.training.runs import RunMismatchError
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.step import NonFiniteError
from danet_tf.training.strategy import make_strategy
from danet_tf.training.trainer import TrainResult, resolve_workdir, train

__all__ = [
    "BatchPlan",
    "CheckpointError",
    "LinearDecay",
    "NonFiniteError",
    "PoseLoss",
    "RunMismatchError",
    "TrainResult",
    "batch_plan",
    "build_optimizer",
    "default_level_weights",
    "fit_dataset",
    "joint_mse",
    "make_strategy",
    "ohkm",
    "ohkm_topk",
    "pose_loss",
    "resolve_workdir",
    "stacked_model",
    "train",
    "unscaled_inference_model",
]
