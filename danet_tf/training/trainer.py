"""The training loop: a custom distributed loop with step-exact checkpoint and resume.

Why not ``model.fit`` + ``keras.callbacks.BackupAndRestore``: in Keras 3.15 that callback
restores only the epoch (a run killed mid-epoch redoes the whole epoch, so the step count
and the schedule drift), overwrites one ``.weights.h5`` in place (a ``kill -9`` during the
write loses the only backup) and has every worker write the same file under
MultiWorkerMirroredStrategy. Here a ``tf.train.CheckpointManager`` saves model, optimizer
(hence the schedule, which reads the optimizer's step) and the global step every
``checkpoint_every_steps`` steps and at every epoch end; TensorFlow writes a checkpoint
completely before it points ``checkpoint`` at it, so a kill at any moment leaves the previous
one usable. Rerunning the same command resumes at the saved step and stops at exactly
``epochs * steps_per_epoch`` steps. The data resume too: the input pipeline's sample order
and augmentation are functions of the seed and the sample's position in the stream
(`danet_tf.data.order`), so a resumed run starts at the position the killed run had reached
and sees the samples it would have seen.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from danet_tf.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config, build_codec, default_workdir
from danet_tf.data.targets import encode_heatmaps
from danet_tf.training import runs
from danet_tf.training.batching import batch_plan
from danet_tf.training.checkpoints import (
    CheckpointError,
    checkpoint_steps,
    legacy_checkpoint,
    prune_step_state,
    read_step_state,
    select_and_restore,
    training_checkpoint,
    write_step_state,
)
from danet_tf.training.inputs import TrainInputs, build_inputs
from danet_tf.training.logs import TrainLogger
from danet_tf.training.losses import default_level_weights, pose_loss
from danet_tf.training.metrics import pck
from danet_tf.training.pictures import overlay_grid, write_curves, write_png
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.strategy import is_chief, make_strategy, split_cpu, worker_id
from danet_tf.training.validation import AP_KEY, BestTracker, coco_ap, is_coco_keypoints, val_subset

__all__ = ["CheckpointError", "NonFiniteError", "TrainResult", "train"]

# (model config, num_keypoints) -> multi-scale keras.Model with outputs named as the levels.
ModelBuilder = Callable[[Config, int], keras.Model]
PCK_ALPHA = 0.05


@dataclasses.dataclass
class TrainResult:
    workdir: Path
    step: int
    total_steps: int
    final_model: Path | None
    last_logs: dict[str, float]
    model: keras.Model  # the trained multi-scale model
    outdir: Path  # where this worker wrote summary.json (the work dir on the chief)


def default_model_builder(cfg: Config, num_keypoints: int) -> keras.Model:
    import danet_tf

    h, w = cfg.model.input_size
    return danet_tf.build_model(
        cfg.model.name, input_shape=(h, w, 3), num_keypoints=num_keypoints, multi_scale=True
    )


def _init_weights(model: keras.Model, path: str) -> None:
    """Load ``model.init_weights`` into a fresh training model, or raise naming the file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"model.init_weights: {path} does not exist")
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"model.init_weights: {path} is not a .weights.h5 file")
    try:
        model.load_weights(path)
    except ValueError as err:
        raise ValueError(f"model.init_weights: {path} does not fit {model.name}: {err}") from None


def check_model_name(name: str) -> None:
    import danet_tf

    known = danet_tf.list_models()
    if name not in known:
        raise ValueError(f"model.name: unknown model {name!r}; known: {', '.join(known)}")


def run_codec(cfg: Config, levels: tuple[str, ...] | None = None) -> HeatmapCodec:
    """The codec of a run (`danet_tf.config.build_codec`) for the model's supervised ``levels``
    (default: ``danet_tf.models.LEVELS``): written into ``final.keras``/``best.keras``, and
    what the input pipeline, the targets, validation and the pictures use."""
    from danet_tf import models

    return build_codec(cfg, tuple(models.LEVELS) if levels is None else tuple(levels))


def resolve_level_weights(cfg: Config, levels: tuple[str, ...]) -> tuple[float, ...]:
    """``train.level_weights``, or the defaults of ``train.loss`` for ``levels``."""
    weights = cfg.train.level_weights or default_level_weights(cfg.train.loss, len(levels))
    if len(weights) != len(levels):
        raise ValueError(
            f"train.level_weights: expected {len(levels)} values for {list(levels)}, "
            f"got {list(weights)}"
        )
    return tuple(weights)


def resolve_workdir(cfg: Config) -> Path:
    """``runtime.workdir``, else ``work_dirs/<model>_<dataset>-<H>x<W>`` (`default_workdir`)."""
    return Path(cfg.runtime.workdir) if cfg.runtime.workdir else default_workdir(cfg)


def _inference_model(model: keras.Model) -> keras.Model:
    from danet_tf import models

    return models.inference_model(model)


def unscaled_inference_model(model: keras.Model, scale: float, level: str = "heatmaps"
                             ) -> keras.Model:
    """The single-output model with the training ``target_scale`` divided back out.

    The last layer (the ``level`` output) is replaced by a ``Rescaling(1 / scale)`` of the same
    name, so the heatmaps keep the codec's peak of 1 and the output name stays ``level``.
    """
    last = model.get_layer(level)
    if last.weights:
        raise ValueError(f"output layer {level!r} of {model.name!r} has weights; expected a "
                         "weightless (linear activation) output layer to replace")
    out = keras.layers.Rescaling(1.0 / scale, dtype="float32", name=level)(last.input)
    return keras.Model(model.inputs, out, name=model.name)


class NonFiniteError(FloatingPointError):
    """The loss or the weights stopped being finite; nothing non-finite was written."""


# What a work directory holds for one run; --restart (or a fresh start over the files of a
# run that left no checkpoint) moves them into previous/<time>/ instead of deleting them.
RUN_FILES = ("checkpoints", "log.csv", "epochs.csv", "summary.json", "best.json", "final.keras",
             "best.keras", "curves.png", "predictions", "tensorboard", "run.json", "config.yaml",
             "val_subset.json")


def _set_aside(workdir: Path, names: tuple[str, ...] = RUN_FILES) -> Path | None:
    present = [n for n in names if (workdir / n).exists()]
    if not present:
        return None
    dest = workdir / "previous" / time.strftime("%Y%m%d-%H%M%S")
    while dest.exists():
        dest = dest.with_name(dest.name + "x")
    dest.mkdir(parents=True)
    for name in present:
        shutil.move(str(workdir / name), str(dest / name))
    return dest


def _has_run_files(workdir: Path) -> bool:
    from danet_tf.training.logs import read_csv_rows

    return bool(read_csv_rows(workdir / "log.csv") or read_csv_rows(workdir / "epochs.csv")
                or any((workdir / n).exists() for n in ("final.keras", "best.keras",
                                                        "summary.json")))


def _recorded_run(workdir: Path) -> dict | None:
    """The run recorded in the work directory (run.json; config.yaml of older runs)."""
    record = runs.read_run(workdir)
    if record is None and (workdir / "config.yaml").is_file():
        import yaml

        try:
            record = runs.flatten(yaml.safe_load((workdir / "config.yaml").read_text()), {})
        except (yaml.YAMLError, AttributeError, TypeError):
            record = None
    return record


def _all_finite(variables) -> bool:
    for v in variables:
        if "float" in str(v.dtype) and not bool(
                tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v)))):
            return False
    return True


def _likely_cause(what: str, lr: float, step: int, first_step: bool, cfg: Config) -> str:
    if lr > 1.0:
        return (f"the learning rate {lr:g} is far too high (train.learning_rate "
                f"{cfg.train.learning_rate:g} at the reference batch)")
    if what == "gradient":
        return ("the gradients overflowed: lower the learning rate or set train.clipnorm")
    if first_step and step == 1:
        return ("non-finite at the very first step: check the input data and targets "
                "(train.target_scale) and, with --mixed-precision, float16 overflow")
    return ("the run diverged: lower the learning rate (train.learning_rate "
            f"{cfg.train.learning_rate:g}), set train.clipnorm, or train in float32")


def train(
    cfg: Config,
    *,
    inputs: TrainInputs | None = None,
    model_builder: ModelBuilder | None = None,
    levels: tuple[str, ...] | None = None,
    inference_fn: Callable[[keras.Model], keras.Model] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    restart: bool = False,
    allow_changes: Sequence[str] = (),
) -> TrainResult:
    """Train (or resume training) as ``cfg`` says; write ``final.keras`` in the work directory.

    ``inputs``, ``model_builder``, ``levels`` and ``inference_fn`` default to the real data
    pipeline, the registered DANet models, ``danet_tf.models.LEVELS`` and
    ``danet_tf.models.inference_model``; tests may substitute them. Every worker of a
    multi-worker run must call this; only the chief writes logs and ``final.keras``.

    ``callbacks``: Keras callbacks, called like ``model.fit`` calls them (``on_train_begin``,
    ``on_epoch_begin``, ``on_train_batch_begin/end`` with the step's losses and ``lr``,
    ``on_epoch_end`` with the epoch's mean losses and validation metrics,
    ``on_train_end``); their model is the multi-scale training model, and setting
    ``model.stop_training`` (``keras.callbacks.EarlyStopping``) ends the run after a
    checkpoint. ``restart``: start from step 0 even though the work directory holds
    checkpoints (its files are moved to ``previous/<time>/``). ``allow_changes``: config
    fields that may differ from the recorded run (`danet_tf.training.runs.CHANGEABLE`).

    Raises ``CheckpointError`` (checkpoints exist and none restores), ``RunMismatchError``
    (the work directory holds another run) and ``NonFiniteError``, each naming the cause.
    """
    unknown = sorted(set(allow_changes) - set(runs.CHANGEABLE))
    if unknown:
        raise runs.RunMismatchError(
            f"--allow-change {', '.join(unknown)}: not a field that may change mid-run; those "
            f"are {', '.join(runs.CHANGEABLE)}")
    split_cpu(cfg.runtime.cpu_devices)
    keras.utils.set_random_seed(cfg.runtime.seed)
    policy = None
    if cfg.runtime.mixed_precision:
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        keras.mixed_precision.set_global_policy(policy)
    strategy = make_strategy(cfg.runtime.strategy)
    chief = is_chief(strategy)
    workdir = resolve_workdir(cfg)
    codec = run_codec(cfg, levels)
    if levels is None:
        levels = tuple(codec.level_sigmas)
    level_weights = resolve_level_weights(cfg, levels)
    if model_builder is None:
        check_model_name(cfg.model.name)
    if inputs is None:
        inputs = build_inputs(cfg, codec)
    builder = model_builder or default_model_builder
    verbose = cfg.runtime.verbose
    say = print if verbose and chief else (lambda *a, **k: None)

    replicas = strategy.num_replicas_in_sync
    plan = batch_plan(cfg.train, replicas)
    global_batch = plan.global_batch
    steps_per_epoch = cfg.train.steps_per_epoch or max(1, inputs.num_train_samples // global_batch)
    total_steps = cfg.train.epochs * steps_per_epoch
    resolved = {
        "num_keypoints": inputs.num_keypoints, "num_train_samples": inputs.num_train_samples,
        "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
        "levels": list(levels), "level_weights": list(level_weights),
        "level_sigmas": dict(codec.level_sigmas), "learning_rate": plan.learning_rate,
        "end_learning_rate": plan.end_learning_rate,
    }
    this_run = runs.flatten(cfg.to_dict(), resolved)

    ckpt_dir = workdir / "checkpoints"
    moved = None
    if restart and chief:
        moved = _set_aside(workdir)
        say(f"--restart: the work directory's earlier files are in {moved}" if moved else
            "--restart: nothing to set aside", flush=True)
    found = checkpoint_steps(ckpt_dir)
    diffs: dict = {}
    recorded = _recorded_run(workdir) if found else None
    if recorded is not None:
        diffs = runs.check_same_run(recorded, this_run, set(allow_changes), workdir,
                                    max(found))

    with strategy.scope():
        model = builder(cfg, inputs.num_keypoints)
        optimizer = build_optimizer(cfg.train, total_steps, plan.lr_factor)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    missing = [lvl for lvl in levels if lvl not in model.output_names]
    if missing:
        raise ValueError(f"model {cfg.model.name!r} has no outputs {missing}: {model.output_names}")

    ckpt = training_checkpoint(model, optimizer, step_var)
    selection = select_and_restore(ckpt, ckpt_dir, move_damaged=chief,
                                   legacy=legacy_checkpoint(model, optimizer, step_var))
    if selection.damaged:
        say(f"warning: {selection.report()}", flush=True)
    if selection.legacy:
        say(f"warning: {selection.path} predates complete checkpoints: the BatchNorm moving "
            "statistics of layers inside dense blocks were not saved in it and restart from "
            "their initial values (they re-adapt within a few hundred steps)", flush=True)
    start_step = int(step_var.numpy())
    if selection.path is None and cfg.model.init_weights:
        _init_weights(model, cfg.model.init_weights)
        say(f"initial weights: {cfg.model.init_weights}", flush=True)
    if start_step > total_steps:
        raise runs.RunMismatchError(
            f"{workdir}: the checkpoint is at step {start_step}, past this config's "
            f"{total_steps} steps ({cfg.train.epochs} epochs x {steps_per_epoch})")
    write_dir = ckpt_dir if chief else workdir / f".worker-{worker_id(strategy)}" / "checkpoints"
    manager = tf.train.CheckpointManager(ckpt, str(write_dir), cfg.train.keep_checkpoints)
    # The loop state saved beside the checkpoint: the epoch's loss sums, the stream position.
    resumed = read_step_state(write_dir, selection.step)
    if chief:
        workdir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(workdir)
        if selection.path is None and not restart and _has_run_files(workdir):
            moved = _set_aside(workdir)
            say(f"no checkpoint to resume from: the earlier run's files are in {moved}",
                flush=True)
        atomic_write_text(workdir / runs.RUN_FILE, runs.run_record(cfg.to_dict(), resolved))
        cfg.save(workdir / "config.yaml")
    if "train.epochs" in diffs and selection.step is not None:
        old_total = int(diffs.get("resolved.total_steps", (total_steps,))[0])
        old_lr = float(LinearDecay(plan.learning_rate, old_total, plan.end_learning_rate,
                                   min(cfg.train.warmup_steps, old_total - 1))(start_step))
        new_lr = float(optimizer.learning_rate)
        say(f"train.epochs {diffs['train.epochs'][0]} -> {diffs['train.epochs'][1]}: the "
            f"schedule is now the {total_steps}-step one; learning rate at step {start_step}: "
            f"{new_lr:.4g} (was {old_lr:.4g} on the {old_total}-step schedule)", flush=True)
    for key, (a, b) in diffs.items():
        if key != "train.epochs" and not key.startswith("resolved."):
            say(f"{key}: {a!r} -> {b!r} (--allow-change)", flush=True)
    state = f"resuming at step {start_step}" if selection.path else "starting"
    say(f"{state}: {total_steps} steps ({cfg.train.epochs} epochs x {steps_per_epoch}), "
        f"{plan.describe(cfg.train)}, loss {cfg.train.loss}, data: "
        f"{inputs.description or inputs.num_train_samples}; work dir {workdir}", flush=True)

    stream = {"start": 0, "served": 0}

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # Each pipeline serves global_batch / num_input_pipelines samples per step; on resume
        # it starts where the interrupted run's pipeline had got to: the position recorded
        # with the checkpoint (dropped samples included), else step x batch.
        batch = ctx.get_per_replica_batch_size(global_batch)
        start = resumed.get("position", start_step * (global_batch // ctx.num_input_pipelines))
        stream.update(start=int(start), served=int(start))
        return inputs.make_train(batch, cfg.runtime.seed, ctx.num_input_pipelines,
                                 ctx.input_pipeline_id, int(start))

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    check_grads = policy != "mixed_float16"  # loss scaling skips non-finite steps itself
    train_step = _make_train_step(
        strategy, model, optimizer, step_var, levels, level_weights, cfg, global_batch, codec,
        check_grads,
    )
    logger = TrainLogger(workdir, enabled=chief, verbose=verbose,
                         steps_per_epoch=steps_per_epoch, start_step=start_step,
                         total_steps=total_steps, progress_every=cfg.train.log_every_steps)
    inference_fn = inference_fn or _inference_model
    monitor = _Monitor(cfg, codec, inputs, model, inference_fn, levels, workdir, logger,
                       start_step, steps_per_epoch, enabled=chief)
    cb = keras.callbacks.CallbackList(list(callbacks or []), add_history=False,
                                      add_progbar=False, model=model, epochs=cfg.train.epochs,
                                      steps=steps_per_epoch, verbose=0)
    step = start_step
    saved = selection.step or 0
    logs: dict[str, float] = {}
    # The epoch's running loss sums travel with each checkpoint (a sidecar), so a resumed
    # epoch reports the same means as an uninterrupted one.
    sums: dict[str, float] = dict(resumed.get("sums", {}))
    # The first step the sums cover: the start of the epoch they belong to (an epoch's last
    # checkpoint holds its full sums), or the resumed step for a checkpoint without sums.
    counted_from = (step - 1) // steps_per_epoch * steps_per_epoch if sums else step
    stopped = False

    def save(at: int) -> None:
        nonlocal saved
        variables = list(model.weights) + list(optimizer.variables)
        if not _all_finite(variables):
            raise NonFiniteError(
                f"non-finite weights at step {at}: not saved; the last checkpoint is step "
                f"{saved}. Likely cause: " + _likely_cause("weights", lr, at, False, cfg))
        write_step_state(write_dir, at, {"sums": sums, "position": stream["served"]})
        manager.save(checkpoint_number=at)
        prune_step_state(write_dir)
        saved = at

    def finish_epoch(epoch: int) -> dict[str, float]:
        n = max(1, step - counted_from)
        epoch_logs = {k: v / n for k, v in sums.items()}
        epoch_logs["lr"] = float(optimizer.learning_rate)
        epoch_logs.update(monitor.validate(epoch, step))
        logger.end_epoch(epoch, step, epoch_logs, monitor.epoch_skips(epoch))
        monitor.end_epoch(epoch, step, epoch_logs, builder, inputs.num_keypoints)
        cb.on_epoch_end(epoch, dict(epoch_logs))
        return epoch_logs

    lr = float(optimizer.learning_rate)
    model.stop_training = False
    cb.on_train_begin()
    try:
        if chief and step and step % steps_per_epoch == 0 and logger.epoch_logged(step) is False:
            # Killed between the epoch's last checkpoint and its row: validate, log and
            # pick best.keras now, from the same weights.
            monitor.start_epoch()
            logs = finish_epoch(step // steps_per_epoch - 1)
        while step < total_steps and not stopped:
            epoch, in_epoch = divmod(step, steps_per_epoch)
            logger.start_epoch(epoch, cfg.train.epochs, in_epoch)
            monitor.start_epoch()
            cb.on_epoch_begin(epoch)
            if in_epoch == 0:
                sums, counted_from = {}, step
            for batch_index in range(in_epoch, steps_per_epoch):
                lr = float(optimizer.learning_rate)
                cb.on_train_batch_begin(batch_index)
                out = train_step(iterator)
                step += 1
                logs = {k: float(v) for k, v in out.items()}
                grad_norm = logs.pop("grad_norm", 0.0)
                last = int(out["serial"])
                logs.pop("serial")
                if last >= 0:
                    stream["served"] = stream["start"] + last + 1
                for what, value in (("loss", logs["loss"]), ("gradient", grad_norm)):
                    if not np.isfinite(value):
                        raise NonFiniteError(
                            f"non-finite {what} ({value}) at step {step} (learning rate "
                            f"{lr:.4g}); the run stopped before writing it anywhere: the last "
                            f"checkpoint is step {saved}. Likely cause: "
                            + _likely_cause(what, lr, step, step == start_step + 1, cfg))
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                logs["lr"] = lr
                write = step % cfg.train.log_every_steps == 0 or step % steps_per_epoch == 0
                done = step - epoch * steps_per_epoch
                means = {k: v / (step - counted_from) for k, v in sums.items()} | {"lr": lr}
                logger.step(step, done, logs, means, global_batch, write)
                cb.on_train_batch_end(batch_index, dict(logs))
                if model.stop_training:
                    stopped = True
                    break
                if step % steps_per_epoch and step % cfg.train.checkpoint_every_steps == 0:
                    save(step)
            save(step)
            logs = finish_epoch(epoch)
            stopped = stopped or bool(model.stop_training)
    finally:
        logger.close()
    cb.on_train_end(dict(logs))
    if stopped:
        say(f"stopped by a callback at step {step} of {total_steps}", flush=True)

    final = None
    if chief:
        final = _write_final(cfg, codec, model, builder, inference_fn, inputs.num_keypoints,
                             workdir, keypoints=inputs.keypoint_info)
    summary = {"step": step, "total_steps": total_steps, "logs": logs, "replicas": replicas,
               "optimizer_iterations": int(optimizer.iterations.numpy()),
               "resumed_from_step": selection.step, "stopped_by_callback": stopped,
               "damaged_checkpoint_files": selection.damaged,
               **monitor.summary()}
    out_dir = workdir if chief else workdir / f".worker-{worker_id(strategy)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1))
    if not chief:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return TrainResult(workdir, step, total_steps, final, logs, model, out_dir)


class _Monitor:
    """Validation, best.keras, skipped-sample counts and pictures of the chief (no-op
    elsewhere)."""

    def __init__(self, cfg: Config, codec: HeatmapCodec, inputs: TrainInputs, model: keras.Model,
                 inference_fn: Callable[[keras.Model], keras.Model],
                 levels: tuple[str, ...], workdir: Path, logger: TrainLogger, start_step: int,
                 steps_per_epoch: int, enabled: bool) -> None:
        self.cfg, self.inputs, self.model, self.levels = cfg, inputs, model, levels
        self.codec = codec
        self.workdir, self.logger, self.enabled = workdir, logger, enabled
        self.coco = False
        self.metric: str | None = None
        self.val_ann: str | None = None
        self.crops = None
        self._inference_fn = inference_fn
        self._infer = None
        self._snap: dict[str, dict[str, int]] = {}
        self._val_skips: dict[str, int] = {}
        start_epoch = start_step // steps_per_epoch
        # Skips by epoch survive resumes in summary.json (epochs after the restored one are
        # redone, so their counts are dropped).
        self.by_epoch: dict[str, dict[str, dict[str, int]]] = {}
        old = workdir / "summary.json"
        if enabled and old.is_file():
            try:
                prev = json.loads(old.read_text()).get("skipped_by_epoch", {})
                self.by_epoch = {e: v for e, v in prev.items() if int(e) <= start_epoch}
            except (ValueError, AttributeError):
                self.by_epoch = {}
        if not enabled:
            self.best = BestTracker(workdir, None)
            return
        has_val = inputs.make_val is not None and cfg.train.val_samples > 0
        if has_val:
            self.coco = bool(inputs.val_annotations) and is_coco_keypoints(
                inputs.val_keypoint_info)
            self.metric = AP_KEY if self.coco else f"val_pck@{PCK_ALPHA:g}"
            if self.coco:
                self.val_ann = val_subset(inputs.val_annotations, cfg.train.val_samples,
                                          workdir / "val_subset.json")
        self.best = BestTracker(workdir, self.metric)
        if inputs.make_val is not None and cfg.train.overlay_samples:
            for images, _, keypoints in inputs.make_val(cfg.train.overlay_samples):
                self.crops = (np.asarray(images, np.float32), keypoints.numpy())
                break

    def inference(self) -> keras.Model:
        """The single-output model (unscaled heatmaps) sharing the training model's layers."""
        if self._infer is None:
            infer = self._inference_fn(self.model)
            if self.cfg.train.target_scale != 1.0:
                infer = unscaled_inference_model(infer, self.cfg.train.target_scale)
            self._infer = infer
        return self._infer

    def start_epoch(self) -> None:
        self._snap = {k: c.by_reason for k, c in self.inputs.skip_counters.items()}
        self._val_skips = {}

    def validate(self, epoch: int, step: int) -> dict[str, float]:
        if not self.enabled or self.metric is None:
            return {}
        if self.coco:
            vals, self._val_skips = coco_ap(
                self.inference(), self.val_ann, self.inputs.val_images,
                self.inputs.num_keypoints, self.codec)
            return vals
        return evaluate_pck(self.model, self.inputs, self.cfg, self.levels[-1], self.codec)

    def epoch_skips(self, epoch: int) -> dict[str, dict[str, int]] | None:
        if not self.enabled:
            return None
        out: dict[str, dict[str, int]] = {}
        for split, counter in self.inputs.skip_counters.items():
            before = self._snap.get(split, {})
            now = counter.by_reason
            out[split] = {r: n - before.get(r, 0) for r, n in now.items() if n > before.get(r, 0)}
        if self._val_skips:
            val = out.setdefault("val", {})
            for r, n in self._val_skips.items():
                val[r] = val.get(r, 0) + n
        out.setdefault("train", {})
        self.by_epoch[str(epoch + 1)] = out
        return out

    def end_epoch(self, epoch: int, step: int, logs: dict[str, float], builder, num_keypoints
                  ) -> None:
        if not self.enabled:
            return
        value = logs.get(self.metric) if self.metric else None
        if self.best.improves(value):
            _write_final(self.cfg, self.codec, self.model, builder, self._inference_fn,
                         num_keypoints, self.workdir, name="best.keras",
                         keypoints=self.inputs.keypoint_info)
            self.best.record(value, epoch + 1, step)
        if self.crops is not None:
            self._overlay(epoch, step)
        try:
            write_curves(self.workdir, self.metric)
        except Exception as err:  # noqa: BLE001 - a picture must not end a long run
            print(f"warning: curves.png not updated: {type(err).__name__}: {err}", flush=True)
        atomic_write_text(self.workdir / "summary.json", json.dumps(
            {"step": step, "epoch": epoch + 1, "logs": logs, **self.summary()}, indent=1))

    def _overlay(self, epoch: int, step: int) -> None:
        images, keypoints = self.crops
        heatmaps = np.asarray(self.inference()([images], training=False), np.float32)
        coords, _ = self.codec.decode(heatmaps)
        info = self.inputs.val_keypoint_info or self.inputs.keypoint_info
        skeleton = tuple(getattr(info, "skeleton", ()) or ())
        grid = overlay_grid(images, keypoints, np.asarray(coords), skeleton)
        write_png(self.workdir / "predictions" / f"epoch_{epoch + 1:03d}.png", grid)
        self.logger.image(step, "val/predictions", grid)

    def summary(self) -> dict:
        totals: dict[str, dict[str, int]] = {}
        for per_split in self.by_epoch.values():
            for split, reasons in per_split.items():
                dest = totals.setdefault(split, {})
                for r, n in reasons.items():
                    dest[r] = dest.get(r, 0) + n
        return {"validation_metric": self.metric, "best": self.best.best,
                "skipped_samples": totals, "skipped_by_epoch": self.by_epoch}


def _make_train_step(strategy, model, optimizer, step_var, levels, level_weights, cfg,
                     global_batch, codec: HeatmapCodec | None = None, check_grads=True):
    """One optimizer step per call on the next batch of ``iterator``.

    Batches are ``(images, targets)``: images uint8 or float32 (cast here), targets either
    heatmaps ``{level: ..., "weights": ...}`` or, as the input pipeline sends them,
    ``{"keypoints": (B, K, 3), "weights": ...}``, rendered here on the replica's device
    with ``codec`` (`danet_tf.data.targets.encode_heatmaps`): that keeps the
    Gaussians off the input pipeline's CPU and 4 levels of heatmaps (835 KB per 256x192
    sample) out of the host-to-device copy. Also returns ``grad_norm`` (the global norm of
    the gradients; 0 when ``check_grads`` is off), so a non-finite gradient stops the run.
    """
    scale_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def step_fn(images, targets):
        images = tf.cast(images, tf.float32)
        targets = dict(targets)
        serial = targets.pop("serial", None)
        if "keypoints" in targets:
            if codec is None:
                raise ValueError("keypoint targets need the run's codec to render heatmaps")
            targets = encode_heatmaps(targets["keypoints"], codec)
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            terms = pose_loss(targets, outputs, levels, level_weights, cfg.train.ohkm_weight,
                              cfg.train.ohkm_ratio, cfg.train.target_scale,
                              coarse_visible_only=cfg.train.loss == "authors")
            loss = tf.nn.compute_average_loss(terms["loss"], global_batch_size=global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss) if scale_loss else loss
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        step_var.assign_add(1)
        out = {k: tf.nn.compute_average_loss(v, global_batch_size=global_batch)
               for k, v in terms.items()}
        norm = tf.linalg.global_norm([g for g in grads if g is not None]) if check_grads \
            else tf.constant(0.0)
        # Summed over replicas below: divide so the sum is the mean of the replicas' norms.
        out["grad_norm"] = tf.cast(norm, tf.float32) / strategy.num_replicas_in_sync
        last = tf.constant(-1, tf.int64) if serial is None else tf.reduce_max(serial)
        return out, last

    @tf.function
    def train_step(iterator):
        images, targets = next(iterator)
        per_replica, last = strategy.run(step_fn, args=(images, targets))
        out = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
               for k, v in per_replica.items()}
        # This worker's pipeline: the last element its replicas were served (-1: unknown).
        out["serial"] = tf.reduce_max(tf.stack(strategy.experimental_local_results(last)))
        return out

    return train_step


def evaluate_pck(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str,
                 codec: HeatmapCodec, alpha: float = PCK_ALPHA) -> dict[str, float]:
    """PCK@alpha (of the crop's longer side) on up to ``train.val_samples`` validation crops,
    decoded as the run's ``codec`` decodes."""
    preds, gts, vis = predict_val(model, inputs, cfg, level, codec)
    if not len(preds):
        return {}
    threshold = alpha * max(codec.input_size)
    return {f"val_pck@{alpha:g}": pck(preds, gts, vis, threshold)}


def predict_val(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str,
                codec: HeatmapCodec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded predictions (the codec's decoder), ground truth and visibility on the
    validation crops."""
    preds, gts, vis = [], [], []
    seen = 0
    for images, _, keypoints in inputs.make_val(max(1, min(32, cfg.train.val_samples))):
        heatmaps = model(images, training=False)
        if isinstance(heatmaps, dict):
            heatmaps = heatmaps[level]
        coords, _ = codec.decode(np.asarray(heatmaps, np.float32))
        kp = keypoints.numpy()
        preds.append(coords)
        gts.append(kp[..., :2])
        vis.append(kp[..., 2])
        seen += len(kp)
        if seen >= cfg.train.val_samples:
            break
    if not preds:
        return np.zeros((0,)), np.zeros((0,)), np.zeros((0,))
    n = cfg.train.val_samples
    return (np.concatenate(preds)[:n], np.concatenate(gts)[:n], np.concatenate(vis)[:n])


def _write_final(cfg: Config, codec: HeatmapCodec, model: keras.Model, builder: ModelBuilder,
                 inference_fn: Callable[[keras.Model], keras.Model], num_keypoints: int,
                 workdir: Path, name: str = "final.keras", keypoints: Any = None) -> Path:
    """Save the single-output inference model in float32 as ``name`` (atomically)."""
    if any(layer.dtype_policy.name != "float32" for layer in model.layers):
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            fp32 = builder(cfg, num_keypoints)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        fp32.set_weights(model.get_weights())
        model = fp32
    final = workdir / name
    inference = inference_fn(model)
    if cfg.train.target_scale != 1.0:
        inference = unscaled_inference_model(inference, cfg.train.target_scale)
    from danet_tf.export.api import build_metadata
    from danet_tf.export.metadata import embed

    # The run's codec travels with the model: export and evaluation read it back.
    if keypoints is not None and len(keypoints.names) != num_keypoints:
        keypoints = None
    try:
        meta = build_metadata(inference, "keras", "none", None, keypoints, cfg.model.name,
                              codec)  # fmt: skip
    except ValueError:  # not a danet_tf model (no normalize layer): nothing to record
        meta = None
    with atomic_path(final) as tmp:
        inference.save(tmp)
        if meta is not None:
            embed(tmp, "keras", meta)
    return final
