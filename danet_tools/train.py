"""Train a DANet pose model: ``danet-train --model danet88 --data ANN.json --images DIR``.

Configuration comes from the typed defaults in ``danet_tf/config.py``, then ``--config`` (a
file, or the name of a config shipped in configs/: danet72_coco-256x192, ...), then the flags
below, then ``--set section.field=value`` (any field). With no ``--config``
and no ``--data`` the run uses ``configs/danet_tiny_synthetic-128x96.yaml``: a tiny model on
the embedded synthetic dataset (generated into a cache directory on first use), which
finishes in a few minutes on a 2-core CPU. Rerunning the same command resumes from the
newest checkpoint of the work directory that restores (damaged ones are moved aside and
named). The default work directory is work_dirs/<model>_<dataset>-<H>x<W>; a work directory
that holds another run (another model, data, batch, schedule, loss, augmentation...) is
refused with the differing fields listed.

Exit status: 0 done, 2 bad config value, 1 the run cannot go on (no restorable checkpoint,
another run in the work directory, a non-finite loss or weight); the message says why.
"""

from __future__ import annotations

import argparse
import sys

from danet_tools import quiet_tensorflow
from danet_tools.choices import STRATEGIES
from danet_tools.configs import DEMO_CONFIG, find_config, shipped_configs

# flag dest -> config field
FLAG_FIELDS = {
    "model": "model.name",
    "input_size": "model.input_size",
    "data": "data.annotations",
    "images": "data.images",
    "val_data": "data.val_annotations",
    "val_images": "data.val_images",
    "epochs": "train.epochs",
    "steps_per_epoch": "train.steps_per_epoch",
    "batch_size": "train.global_batch_size",
    "lr": "train.learning_rate",
    "checkpoint_every": "train.checkpoint_every_steps",
    "workdir": "runtime.workdir",
    "strategy": "runtime.strategy",
    "seed": "runtime.seed",
    "verbose": "runtime.verbose",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", help="YAML config file or the name of a shipped one (default: the "
                   "synthetic demo config when --data is not given, else the built-in paper "
                   "recipe); shipped:\n" + "\n".join(shipped_configs()))
    p.add_argument("--model", help="model name, e.g. danet72, danet88, danet_tiny")
    p.add_argument("--data", help="COCO keypoint annotation json for training")
    p.add_argument("--images", help="image directory the json's file_name is relative to")
    p.add_argument("--val-data", help="COCO keypoint json validated after every epoch (COCO AP when "
                                      "it has OKS sigmas, else PCK; picks best.keras)")
    p.add_argument("--val-images", help="image directory of --val-data")
    p.add_argument("--workdir", help="checkpoints, logs, final.keras, best.keras, curves.png "
                                     "(default work_dirs/<model>_<dataset>-<H>x<W>)")
    p.add_argument("--epochs", help="number of epochs")
    p.add_argument("--steps-per-epoch", help="steps per epoch (default: one pass over the data)")
    p.add_argument("--batch-size", help="global batch size, split over the replicas; the "
                                        "learning rate is scaled by train.lr_scaling")
    p.add_argument("--lr", help="initial learning rate at train.reference_batch_size "
                                "(decays linearly to end_learning_rate)")
    p.add_argument("--input-size", help="network input HxW, e.g. 256x192")
    p.add_argument("--checkpoint-every", help="checkpoint every N steps (and every epoch)")
    p.add_argument("--strategy", help=f"one of {', '.join(STRATEGIES)}")
    p.add_argument("--mixed-precision", action="store_true",
                   help="float16 (GPU) / bfloat16 (CPU) compute; the loss stays float32")
    p.add_argument("--seed", help="random seed")
    p.add_argument("--verbose", help="0 silent; 1 a progress bar on a terminal, else one line "
                                     "every log_every_steps steps; 2 always lines")
    p.add_argument("--restart", action="store_true",
                   help="start again from step 0 although the work directory holds checkpoints "
                        "(its files are moved to previous/<time>/, not deleted)")
    p.add_argument("--allow-change", action="append", default=[], metavar="SECTION.FIELD",
                   help="let this field differ from the run recorded in the work directory: "
                        "train.epochs (the schedule becomes the new length's), "
                        "train.val_samples, data.val_annotations, data.val_images, "
                        "data.images, runtime.mixed_precision")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override any config field, e.g. --set train.ohkm_weight=0")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = find_config(args.config)
    if config is None and args.data is None:
        config = find_config(DEMO_CONFIG)
    overrides = {field: getattr(args, dest) for dest, field in FLAG_FIELDS.items()
                 if getattr(args, dest) is not None}
    if args.mixed_precision:
        overrides["runtime.mixed_precision"] = True
    quiet_tensorflow()
    from danet_tf.config import ConfigError, load_config, parse_set_args

    try:
        overrides.update(parse_set_args(args.set))
        cfg = load_config(config, overrides)
    except ConfigError as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    if cfg.runtime.verbose:
        print(f"config: {config or 'built-in defaults'}", flush=True)

    from danet_tf.training import CheckpointError, NonFiniteError, RunMismatchError, train
    from danet_tf.training.inputs import DataCheckError

    allow = [name for item in args.allow_change for name in item.split(",") if name.strip()]
    try:
        result = train(cfg, restart=args.restart, allow_changes=allow)
    except (CheckpointError, RunMismatchError, NonFiniteError, DataCheckError) as err:
        print(f"train.py: error: {err}", file=sys.stderr, flush=True)
        return 1
    if cfg.runtime.verbose and result.final_model is not None:
        print(f"done: {result.step}/{result.total_steps} steps; final model: {result.final_model}")
        print(next_steps(cfg, result))
    return 0


def next_steps(cfg, result) -> str:
    """What the run made and what to do with it, for the last lines of a run."""
    workdir = result.workdir
    lines = ["made:"]
    for name, what in (("curves.png", "loss and validation curves"),
                       ("predictions", "predictions on validation crops per epoch, ground "
                        "truth as green rings, predictions as red dots (legend in the picture)"),
                       ("best.keras", "the best epoch by the validation metric"),
                       ("epochs.csv", "one row per epoch")):  # fmt: skip
        if (workdir / name).exists():
            lines.append(f"  {workdir / name}: {what}")
    logs = result.last_logs or {}
    metric = next((k for k in ("val_AP", "val_pck@0.05") if k in logs), None)
    if metric is not None:
        on = ("the embedded synthetic stick figures, not photographs"
              if cfg.data.annotations is None else f"the first {cfg.train.val_samples} "
              f"persons of {cfg.data.val_annotations or cfg.data.annotations}")
        lines.append(f"final {metric} {logs[metric]:.3f}: measured on {on}")
    lines.append(f"next: danet-demo PHOTO --model {result.final_model} --output out.jpg")
    if cfg.data.annotations is None:
        lines.append("  (a model of stick figures does not see people: danet-demo PHOTO "
                     "--output out.jpg runs the shipped preset, trained on real photos)")
    return "\n".join(lines)

