"""Converters from other frameworks' checkpoints to danet_tf Keras models.

The only trained DANet weights that exist are the authors' MegEngine checkpoints
(``danet72_256x192_69_8.pkl`` ...); :func:`from_megengine` turns one into a Keras model
that computes what the authors' model computes, and :func:`convert_checkpoint` writes it
as a verified ``.keras`` file. Nothing here downloads anything.
"""

from danet_tf.convert.api import Conversion, convert_checkpoint
from danet_tf.convert.checkpoint import UnsafeCheckpointError, read_state_dict
from danet_tf.convert.megengine import (
    CheckpointMismatchError,
    from_megengine,
    infer_architecture,
)

__all__ = [
    "CheckpointMismatchError",
    "Conversion",
    "UnsafeCheckpointError",
    "convert_checkpoint",
    "from_megengine",
    "infer_architecture",
    "read_state_dict",
]
