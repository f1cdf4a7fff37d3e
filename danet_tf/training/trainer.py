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
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from danet_tf.config import Config
from danet_tf.data.targets import encode_heatmaps
from danet_tf.training.batching import batch_plan
from danet_tf.training.inputs import TrainInputs, build_inputs
from danet_tf.training.logs import TrainLogger
from danet_tf.training.losses import default_level_weights, pose_loss
from danet_tf.training.metrics import pck
from danet_tf.training.schedule import build_optimizer
from danet_tf.training.strategy import is_chief, make_strategy, split_cpu, worker_id

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


def check_model_name(name: str) -> None:
    import danet_tf

    known = danet_tf.list_models()
    if name not in known:
        raise ValueError(f"model.name: unknown model {name!r}; known: {', '.join(known)}")


def _levels_and_sigmas(cfg: Config) -> tuple[tuple[str, ...], dict[str, float]]:
    from danet_tf import models

    levels = tuple(models.LEVELS)
    sigmas = dict(cfg.data.level_sigmas or models.DEFAULT_LEVEL_SIGMAS)
    unknown = sorted(set(sigmas) - set(levels))
    if unknown:
        raise ValueError(f"data.level_sigmas: unknown levels {unknown}; known: {list(levels)}")
    levels = tuple(lvl for lvl in levels if lvl in sigmas)
    return levels, {lvl: float(sigmas[lvl]) for lvl in levels}


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
    return Path(cfg.runtime.workdir or Path("work_dirs") / cfg.model.name)


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


def train(
    cfg: Config,
    *,
    inputs: TrainInputs | None = None,
    model_builder: ModelBuilder | None = None,
    levels: tuple[str, ...] | None = None,
    inference_fn: Callable[[keras.Model], keras.Model] | None = None,
) -> TrainResult:
    """Train (or resume training) as ``cfg`` says; write ``final.keras`` in the work directory.

    ``inputs``, ``model_builder``, ``levels`` and ``inference_fn`` default to the real data
    pipeline, the registered DANet models, ``danet_tf.models.LEVELS`` and
    ``danet_tf.models.inference_model``; tests may substitute them. Every worker of a
    multi-worker run must call this; only the chief writes logs and ``final.keras``.
    """
    split_cpu(cfg.runtime.cpu_devices)
    keras.utils.set_random_seed(cfg.runtime.seed)
    policy = None
    if cfg.runtime.mixed_precision:
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        keras.mixed_precision.set_global_policy(policy)
    strategy = make_strategy(cfg.runtime.strategy)
    chief = is_chief(strategy)
    workdir = resolve_workdir(cfg)
    if levels is None:
        levels, sigmas = _levels_and_sigmas(cfg)
    else:
        sigmas = {}
    level_weights = resolve_level_weights(cfg, levels)
    if model_builder is None:
        check_model_name(cfg.model.name)
    if inputs is None:
        inputs = build_inputs(cfg, sigmas)
    builder = model_builder or default_model_builder

    replicas = strategy.num_replicas_in_sync
    plan = batch_plan(cfg.train, replicas)
    global_batch = plan.global_batch
    steps_per_epoch = cfg.train.steps_per_epoch or max(1, inputs.num_train_samples // global_batch)
    total_steps = cfg.train.epochs * steps_per_epoch

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

    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step_var)
    ckpt_dir = workdir / "checkpoints"
    write_dir = ckpt_dir if chief else workdir / f".worker-{worker_id(strategy)}" / "checkpoints"
    manager = tf.train.CheckpointManager(ckpt, str(write_dir), cfg.train.keep_checkpoints)
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    if latest:
        ckpt.restore(latest).assert_existing_objects_matched()
    start_step = int(step_var.numpy())
    if chief:
        workdir.mkdir(parents=True, exist_ok=True)
        cfg.save(workdir / "config.yaml")
    verbose = cfg.runtime.verbose
    if verbose and chief:
        state = f"resuming at step {start_step}" if latest else "starting"
        print(f"{state}: {total_steps} steps ({cfg.train.epochs} epochs x {steps_per_epoch}), "
              f"{plan.describe(cfg.train)}, loss {cfg.train.loss}, data: "
              f"{inputs.description or inputs.num_train_samples}", flush=True)

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # Each pipeline serves global_batch / num_input_pipelines samples per step; on resume
        # it starts where the interrupted run's pipeline had got to.
        batch = ctx.get_per_replica_batch_size(global_batch)
        start = start_step * (global_batch // ctx.num_input_pipelines)
        return inputs.make_train(batch, cfg.runtime.seed, ctx.num_input_pipelines,
                                 ctx.input_pipeline_id, start)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    train_step = _make_train_step(
        strategy, model, optimizer, step_var, levels, level_weights, cfg, global_batch, sigmas
    )
    logger = TrainLogger(workdir, enabled=chief, verbose=verbose,
                         steps_per_epoch=steps_per_epoch, start_step=start_step)
    step = start_step
    logs: dict[str, float] = {}
    sums: dict[str, float] = {}
    try:
        while step < total_steps:
            epoch, in_epoch = divmod(step, steps_per_epoch)
            logger.start_epoch(epoch, cfg.train.epochs, in_epoch)
            sums = {}
            for _ in range(in_epoch, steps_per_epoch):
                lr = float(optimizer.learning_rate)
                out = train_step(iterator)
                step += 1
                logs = {k: float(v) for k, v in out.items()}
                if not np.isfinite(logs["loss"]):
                    raise FloatingPointError(f"loss became {logs['loss']} at step {step}")
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                logs["lr"] = lr
                write = step % cfg.train.log_every_steps == 0 or step % steps_per_epoch == 0
                done = step - epoch * steps_per_epoch
                means = {k: v / (done - in_epoch) for k, v in sums.items()} | {"lr": lr}
                logger.step(step, done, logs, means, global_batch, write)
                if step % steps_per_epoch and step % cfg.train.checkpoint_every_steps == 0:
                    manager.save(checkpoint_number=step)
            manager.save(checkpoint_number=step)
            n = steps_per_epoch - in_epoch
            epoch_logs = {k: v / n for k, v in sums.items()}
            epoch_logs["lr"] = float(optimizer.learning_rate)
            if chief and inputs.make_val is not None and cfg.train.val_samples:
                epoch_logs.update(evaluate_pck(model, inputs, cfg, levels[-1]))
            logger.end_epoch(epoch, step, epoch_logs)
            logs = epoch_logs
    finally:
        logger.close()

    final = None
    if chief:
        final = _write_final(cfg, model, builder, inference_fn or _inference_model,
                             inputs.num_keypoints, workdir)
    summary = {"step": step, "total_steps": total_steps, "logs": logs, "replicas": replicas,
               "optimizer_iterations": int(optimizer.iterations.numpy())}
    out_dir = workdir if chief else workdir / f".worker-{worker_id(strategy)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if not chief:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    return TrainResult(workdir, step, total_steps, final, logs, model, out_dir)


def _make_train_step(strategy, model, optimizer, step_var, levels, level_weights, cfg,
                     global_batch, level_sigmas=None):
    """One optimizer step per call on the next batch of ``iterator``.

    Batches are ``(images, targets)``: images uint8 or float32 (cast here), targets either
    heatmaps ``{level: ..., "weights": ...}`` or, as the input pipeline sends them,
    ``{"keypoints": (B, K, 3), "weights": ...}``, rendered here on the replica's device
    with ``level_sigmas`` (`danet_tf.data.targets.encode_heatmaps`): that keeps the
    Gaussians off the input pipeline's CPU and 4 levels of heatmaps (835 KB per 256x192
    sample) out of the host-to-device copy.
    """
    scale_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    input_size = tuple(cfg.model.input_size)
    heatmap_size = (input_size[0] // 4, input_size[1] // 4)

    def step_fn(images, targets):
        images = tf.cast(images, tf.float32)
        if "keypoints" in targets:
            if not level_sigmas:
                raise ValueError("keypoint targets need level_sigmas to render heatmaps")
            targets = encode_heatmaps(targets["keypoints"], input_size, heatmap_size,
                                      level_sigmas)  # fmt: skip
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
        return {k: tf.nn.compute_average_loss(v, global_batch_size=global_batch)
                for k, v in terms.items()}

    @tf.function
    def train_step(iterator):
        images, targets = next(iterator)
        per_replica = strategy.run(step_fn, args=(images, targets))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    return train_step


def evaluate_pck(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str,
                 alpha: float = PCK_ALPHA) -> dict[str, float]:
    """PCK@alpha (of the crop's longer side) on up to ``train.val_samples`` validation crops."""
    preds, gts, vis = predict_val(model, inputs, cfg, level)
    if not len(preds):
        return {}
    threshold = alpha * max(cfg.model.input_size)
    return {f"val_pck@{alpha:g}": pck(preds, gts, vis, threshold)}


def predict_val(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded predictions, ground truth and visibility on the validation crops."""
    from danet_tf.codec import HeatmapCodec

    preds, gts, vis = [], [], []
    seen = 0
    codec = None
    for images, _, keypoints in inputs.make_val(max(1, min(32, cfg.train.val_samples))):
        heatmaps = model(images, training=False)
        if isinstance(heatmaps, dict):
            heatmaps = heatmaps[level]
        heatmaps = np.asarray(heatmaps, np.float32)
        if codec is None:
            codec = HeatmapCodec(tuple(cfg.model.input_size), heatmaps.shape[1:3])
        coords, _ = codec.decode(heatmaps, mode="shift")
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


def _write_final(cfg: Config, model: keras.Model, builder: ModelBuilder,
                 inference_fn: Callable[[keras.Model], keras.Model], num_keypoints: int,
                 workdir: Path) -> Path:
    """Save the single-output inference model in float32 as ``final.keras`` (atomically)."""
    if keras.mixed_precision.global_policy().name != "float32":
        keras.mixed_precision.set_global_policy("float32")
        fp32 = builder(cfg, num_keypoints)
        fp32.set_weights(model.get_weights())
        model = fp32
    final = workdir / "final.keras"
    tmp = workdir / "final.tmp.keras"
    inference = inference_fn(model)
    if cfg.train.target_scale != 1.0:
        inference = unscaled_inference_model(inference, cfg.train.target_scale)
    inference.save(tmp)
    os.replace(tmp, final)
    return final
