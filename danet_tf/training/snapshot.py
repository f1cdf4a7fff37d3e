"""A weights-only snapshot of a run: the training (multi-scale) model's weights at the newest
checkpoint that restores, as a ``.weights.h5`` (no optimizer state; a few MB).

A run that cannot go on in its work directory (another machine, a lost disk) starts again
from it with ``--set model.init_weights=SNAPSHOT`` in a fresh work directory: the weights carry
over, the optimizer and the schedule start anew.

    python -m danet_tf.training.snapshot WORKDIR OUT.weights.h5
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_snapshot(workdir: str | Path, output: str | Path) -> int:
    """Write the snapshot; returns the checkpoint's step."""
    import tensorflow as tf

    from danet_tf.config import load_config
    from danet_tf.training.checkpoints import (
        CheckpointError,
        legacy_checkpoint,
        select_and_restore,
        training_checkpoint,
    )
    from danet_tf.training.trainer import default_model_builder

    workdir = Path(workdir)
    cfg = load_config(workdir / "config.yaml")
    num_keypoints = cfg.model.num_keypoints or 17
    model = default_model_builder(cfg, num_keypoints)
    step = tf.Variable(0, dtype=tf.int64)
    # Only the model's variables are wanted: the optimizer's slots are left in the file.
    ckpt = training_checkpoint(model, None, step)
    selection = select_and_restore(ckpt, workdir / "checkpoints", move_damaged=False,
                                   legacy=legacy_checkpoint(model, None, step))  # fmt: skip
    if selection.path is None:
        raise CheckpointError(f"{workdir}: no checkpoint to snapshot")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(".tmp-" + output.name)
    model.save_weights(tmp)
    tmp.replace(output)
    return int(selection.step)


if __name__ == "__main__":
    print(f"step {write_snapshot(sys.argv[1], sys.argv[2])} -> {sys.argv[2]}")
