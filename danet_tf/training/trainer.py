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
import tensorflow as tf

from danet_tf.atomic import atomic_write_text, remove_stale_temporaries
from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config, build_codec, default_workdir
from danet_tf.training import runs
from danet_tf.training.batching import BatchPlan, batch_plan
from danet_tf.training.checkpoints import (
    CheckpointError,
    Selection,
    checkpoint_steps,
    legacy_checkpoint,
    read_step_state,
    select_and_restore,
    training_checkpoint,
)
from danet_tf.training.final import (
    ModelBuilder,
    inference_model,
    write_final,
)
from danet_tf.training.inputs import TrainInputs, build_inputs
from danet_tf.training.logs import TrainLogger
from danet_tf.training.loop import TrainLoop, dataset_function
from danet_tf.training.losses import default_level_weights
from danet_tf.training.monitor import Monitor, evaluate_pck, predict_val  # noqa: F401 (re-exported)
from danet_tf.training.schedule import LinearDecay, build_optimizer
from danet_tf.training.step import NonFiniteError, make_train_step
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


@dataclasses.dataclass
class _Setup:
    """What a run is, decided before any variable exists (`_setup`)."""

    cfg: Config
    strategy: tf.distribute.Strategy
    chief: bool
    policy: str | None
    workdir: Path
    codec: HeatmapCodec
    levels: tuple[str, ...]
    level_weights: tuple[float, ...]
    inputs: TrainInputs
    builder: ModelBuilder
    plan: BatchPlan
    steps_per_epoch: int
    total_steps: int
    resolved: dict
    diffs: dict
    say: Callable[..., None]


@dataclasses.dataclass
class _Restored:
    """The variables of a run, restored from its newest good checkpoint (`_resume`)."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    step_var: tf.Variable
    selection: Selection
    manager: tf.train.CheckpointManager
    write_dir: Path
    resumed: dict  # the checkpoint's sidecar: the epoch's loss sums, the stream position
    start_step: int


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
    run = _setup(cfg, inputs, model_builder, levels, restart, allow_changes)
    restored = _resume(run, restart)
    inference_fn = inference_fn or inference_model
    loop = _loop(run, restored, inference_fn, callbacks)
    loop.run()
    if loop.stopped:
        run.say(f"stopped by a callback at step {loop.step} of {run.total_steps}", flush=True)
    return _finish(run, restored, loop, inference_fn)


def _setup(cfg: Config, inputs: TrainInputs | None, model_builder: ModelBuilder | None,
           levels: tuple[str, ...] | None, restart: bool,
           allow_changes: Sequence[str]) -> _Setup:
    """Seed, precision, strategy, codec, data and schedule; compare with the recorded run."""
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
    say = print if cfg.runtime.verbose and chief else (lambda *a, **k: None)

    plan = batch_plan(cfg.train, strategy.num_replicas_in_sync)
    steps_per_epoch = (cfg.train.steps_per_epoch
                       or max(1, inputs.num_train_samples // plan.global_batch))
    total_steps = cfg.train.epochs * steps_per_epoch
    resolved = {
        "num_keypoints": inputs.num_keypoints, "num_train_samples": inputs.num_train_samples,
        "steps_per_epoch": steps_per_epoch, "total_steps": total_steps,
        "levels": list(levels), "level_weights": list(level_weights),
        "level_sigmas": dict(codec.level_sigmas), "learning_rate": plan.learning_rate,
        "end_learning_rate": plan.end_learning_rate,
    }
    if restart and chief:
        moved = runs.set_aside(workdir)
        say(f"--restart: the work directory's earlier files are in {moved}" if moved else
            "--restart: nothing to set aside", flush=True)
    found = checkpoint_steps(workdir / "checkpoints")
    diffs: dict = {}
    recorded = runs.recorded_run(workdir) if found else None
    if recorded is not None:
        diffs = runs.check_same_run(recorded, runs.flatten(cfg.to_dict(), resolved),
                                    set(allow_changes), workdir, max(found))
    return _Setup(cfg, strategy, chief, policy, workdir, codec, tuple(levels), level_weights,
                  inputs, model_builder or default_model_builder, plan, steps_per_epoch,
                  total_steps, resolved, diffs, say)


def _resume(run: _Setup, restart: bool) -> _Restored:
    """Build model and optimizer, restore the newest good checkpoint (or ``init_weights``),
    record the run in its work directory and say what is starting."""
    cfg, say, total_steps = run.cfg, run.say, run.total_steps
    with run.strategy.scope():
        model = run.builder(cfg, run.inputs.num_keypoints)
        optimizer = build_optimizer(cfg.train, total_steps, run.plan.lr_factor)
        if run.policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    missing = [lvl for lvl in run.levels if lvl not in model.output_names]
    if missing:
        raise ValueError(f"model {cfg.model.name!r} has no outputs {missing}: {model.output_names}")

    ckpt_dir = run.workdir / "checkpoints"
    ckpt = training_checkpoint(model, optimizer, step_var)
    selection = select_and_restore(ckpt, ckpt_dir, move_damaged=run.chief,
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
            f"{run.workdir}: the checkpoint is at step {start_step}, past this config's "
            f"{total_steps} steps ({cfg.train.epochs} epochs x {run.steps_per_epoch})")
    write_dir = (ckpt_dir if run.chief else
                 run.workdir / f".worker-{worker_id(run.strategy)}" / "checkpoints")
    manager = tf.train.CheckpointManager(ckpt, str(write_dir), cfg.train.keep_checkpoints)
    # The loop state saved beside the checkpoint: the epoch's loss sums, the stream position.
    resumed = read_step_state(write_dir, selection.step)
    if run.chief:
        _record_run(run, fresh=selection.path is None and not restart)
    _report_changes(run, optimizer, selection.step, start_step)
    state = f"resuming at step {start_step}" if selection.path else "starting"
    say(f"{state}: {total_steps} steps ({cfg.train.epochs} epochs x {run.steps_per_epoch}), "
        f"{run.plan.describe(cfg.train)}, loss {cfg.train.loss}, data: "
        f"{run.inputs.description or run.inputs.num_train_samples}; work dir {run.workdir}",
        flush=True)
    return _Restored(model, optimizer, step_var, selection, manager, write_dir, resumed,
                     start_step)


def _record_run(run: _Setup, fresh: bool) -> None:
    """Write ``run.json`` and ``config.yaml``; a fresh start first sets earlier files aside."""
    workdir = run.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(workdir)
    if fresh and runs.has_run_files(workdir):
        moved = runs.set_aside(workdir)
        run.say(f"no checkpoint to resume from: the earlier run's files are in {moved}",
                flush=True)
    atomic_write_text(workdir / runs.RUN_FILE, runs.run_record(run.cfg.to_dict(), run.resolved))
    run.cfg.save(workdir / "config.yaml")


def _report_changes(run: _Setup, optimizer: keras.optimizers.Optimizer,
                    resumed_step: int | None, start_step: int) -> None:
    """Say what ``--allow-change`` let differ from the recorded run (and the new schedule)."""
    diffs, plan, cfg = run.diffs, run.plan, run.cfg
    if "train.epochs" in diffs and resumed_step is not None:
        old_total = int(diffs.get("resolved.total_steps", (run.total_steps,))[0])
        old_lr = float(LinearDecay(plan.learning_rate, old_total, plan.end_learning_rate,
                                   min(cfg.train.warmup_steps, old_total - 1))(start_step))
        new_lr = float(optimizer.learning_rate)
        run.say(f"train.epochs {diffs['train.epochs'][0]} -> {diffs['train.epochs'][1]}: the "
                f"schedule is now the {run.total_steps}-step one; learning rate at step "
                f"{start_step}: {new_lr:.4g} (was {old_lr:.4g} on the {old_total}-step "
                "schedule)", flush=True)
    for key, (a, b) in diffs.items():
        if key != "train.epochs" and not key.startswith("resolved."):
            run.say(f"{key}: {a!r} -> {b!r} (--allow-change)", flush=True)


def _loop(run: _Setup, restored: _Restored, inference_fn: Callable[[keras.Model], keras.Model],
          callbacks: Sequence[keras.callbacks.Callback] | None) -> TrainLoop:
    """The input stream, the compiled step, the logger, the monitor and the callbacks."""
    cfg, model, start_step = run.cfg, restored.model, restored.start_step
    spe, global_batch = run.steps_per_epoch, run.plan.global_batch
    stream = {"start": 0, "served": 0}
    dataset_fn = dataset_function(run.inputs, global_batch, cfg.runtime.seed, start_step,
                                  restored.resumed, stream)
    iterator = iter(run.strategy.distribute_datasets_from_function(dataset_fn))
    check_grads = run.policy != "mixed_float16"  # loss scaling skips non-finite steps itself
    train_step = make_train_step(
        run.strategy, model, restored.optimizer, restored.step_var, run.levels,
        run.level_weights, cfg, global_batch, run.codec, check_grads,
    )
    logger = TrainLogger(run.workdir, enabled=run.chief, verbose=cfg.runtime.verbose,
                         steps_per_epoch=spe, start_step=start_step,
                         total_steps=run.total_steps, progress_every=cfg.train.log_every_steps)
    monitor = Monitor(cfg, run.codec, run.inputs, model, inference_fn, run.levels, run.workdir,
                      logger, start_step, spe, enabled=run.chief)
    cb = keras.callbacks.CallbackList(list(callbacks or []), add_history=False,
                                      add_progbar=False, model=model, epochs=cfg.train.epochs,
                                      steps=spe, verbose=0)

    return TrainLoop(cfg, model=model, optimizer=restored.optimizer, manager=restored.manager,
                     write_dir=restored.write_dir, train_step=train_step, iterator=iterator,
                     logger=logger, monitor=monitor, callbacks=cb, start_step=start_step,
                     saved_step=restored.selection.step, steps_per_epoch=spe,
                     total_steps=run.total_steps, global_batch=global_batch,
                     resumed=restored.resumed, stream=stream, chief=run.chief,
                     builder=run.builder, num_keypoints=run.inputs.num_keypoints)


def _finish(run: _Setup, restored: _Restored, loop: TrainLoop,
            inference_fn: Callable[[keras.Model], keras.Model]) -> TrainResult:
    """``final.keras`` (chief), ``summary.json`` (every worker) and the result."""
    final = None
    if run.chief:
        final = write_final(run.cfg, run.codec, restored.model, run.builder,
                            inference_fn, run.inputs.num_keypoints, run.workdir,
                            keypoints=run.inputs.keypoint_info)
    summary = {"step": loop.step, "total_steps": run.total_steps, "logs": loop.logs,
               "replicas": run.strategy.num_replicas_in_sync,
               "optimizer_iterations": int(restored.optimizer.iterations.numpy()),
               "resumed_from_step": restored.selection.step,
               "stopped_by_callback": loop.stopped,
               "damaged_checkpoint_files": restored.selection.damaged,
               **loop.monitor.summary()}
    out_dir = run.workdir if run.chief else run.workdir / f".worker-{worker_id(run.strategy)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1))
    if not run.chief:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return TrainResult(run.workdir, loop.step, run.total_steps, final, loop.logs,
                       restored.model, out_dir)
