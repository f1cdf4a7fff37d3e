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
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from danet_tf.atomic import atomic_write_text, remove_stale_temporaries
from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config, build_codec, default_workdir
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
from danet_tf.training.final import (
    ModelBuilder,
    inference_model,
    write_final,
)
from danet_tf.training.inputs import TrainInputs, build_inputs
from danet_tf.training.logs import TrainLogger
from danet_tf.training.losses import default_level_weights
from danet_tf.training.monitor import Monitor, evaluate_pck, predict_val  # noqa: F401 (re-exported)
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.step import NonFiniteError, all_finite, likely_cause, make_train_step
from danet_tf.training.strategy import is_chief, make_strategy, split_cpu, worker_id

__all__ = ["CheckpointError", "NonFiniteError", "TrainResult", "train"]



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
        moved = runs.set_aside(workdir)
        say(f"--restart: the work directory's earlier files are in {moved}" if moved else
            "--restart: nothing to set aside", flush=True)
    found = checkpoint_steps(ckpt_dir)
    diffs: dict = {}
    recorded = runs.recorded_run(workdir) if found else None
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
        if selection.path is None and not restart and runs.has_run_files(workdir):
            moved = runs.set_aside(workdir)
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
    train_step = make_train_step(
        strategy, model, optimizer, step_var, levels, level_weights, cfg, global_batch, codec,
        check_grads,
    )
    logger = TrainLogger(workdir, enabled=chief, verbose=verbose,
                         steps_per_epoch=steps_per_epoch, start_step=start_step,
                         total_steps=total_steps, progress_every=cfg.train.log_every_steps)
    inference_fn = inference_fn or inference_model
    monitor = Monitor(cfg, codec, inputs, model, inference_fn, levels, workdir, logger,
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
        if not all_finite(variables):
            raise NonFiniteError(
                f"non-finite weights at step {at}: not saved; the last checkpoint is step "
                f"{saved}. Likely cause: " + likely_cause("weights", lr, at, False, cfg))
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
                            + likely_cause(what, lr, step, step == start_step + 1, cfg))
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
        final = write_final(cfg, codec, model, builder, inference_fn, inputs.num_keypoints,
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


