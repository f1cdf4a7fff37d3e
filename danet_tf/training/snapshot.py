"""A weights-only snapshot of a run: the training (multi-scale) model's weights at the newest
checkpoint that restores, as a ``.weights.h5`` (no optimizer state; a few MB).

A run that cannot go on in its work directory (another machine, a lost disk) starts again
from it with ``--set model.init_weights=SNAPSHOT`` in a fresh work directory: the weights carry
over, the optimizer and the schedule start anew.

    python -m danet_tf.training.snapshot WORKDIR OUT.weights.h5 [--float16]

``--float16`` stores the float weights in half precision: half the weights' bytes (the HDF5
structure stays; the DANet-72 snapshot, 4.1 M values in 1,125 datasets, is 10.6 MB), each
weight within float16 rounding (relative 2^-11) of the checkpoint's; a model loading it casts
them back to its own dtype.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _to_float16(source: Path, target: Path) -> None:
    """Copy a Keras weights file with every float32 dataset stored as float16 (a copy, not
    an in-place rewrite: HDF5 does not give back the space of a deleted dataset)."""
    import h5py
    import numpy as np

    def copy(src, dst) -> None:
        dst.attrs.update(src.attrs)
        for name, obj in src.items():
            if isinstance(obj, h5py.Group):
                copy(obj, dst.create_group(name))
                continue
            values = obj[()]
            if obj.dtype == np.float32:
                half = values.astype(np.float16)
                if not np.all(np.isfinite(half)):
                    raise ValueError(
                        f"{obj.name.lstrip('/')}: |value| up to {float(np.max(np.abs(values))):g}"
                        " does not fit float16 (max 65504); write the snapshot without --float16"
                    )
                values = half
            dst.create_dataset(name, data=values)
            dst[name].attrs.update(obj.attrs)

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        copy(src, dst)


def write_snapshot(workdir: str | Path, output: str | Path, float16: bool = False) -> int:
    """Write the snapshot (float weights as float16 with ``float16``); returns the
    checkpoint's step."""
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
    if not float16:
        model.save_weights(tmp)
    else:
        full = tmp.with_name(".tmp-float32-" + output.name)
        model.save_weights(full)
        try:
            _to_float16(full, tmp)
        except ValueError:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            full.unlink()
    tmp.replace(output)
    return int(selection.step)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m danet_tf.training.snapshot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("workdir", help="the training run's work directory")
    parser.add_argument("output", help="the snapshot to write (.weights.h5)")
    parser.add_argument("--float16", action="store_true",
                        help="store the weights as float16 (half their bytes)")
    args = parser.parse_args(argv)
    if not args.output.endswith(".weights.h5"):
        parser.error(f"output must end in .weights.h5, got {args.output!r}")
    if not (Path(args.workdir) / "config.yaml").is_file():
        parser.error(f"{args.workdir!r} is not a training run's work directory (no config.yaml)")
    print(f"step {write_snapshot(args.workdir, args.output, args.float16)} -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
