"""The step loop of `danet_tf.training.train`: steps, checkpoints, epoch ends, callbacks.

`TrainLoop` owns the state that changes while a run trains (the step, the epoch's running
loss sums, the input stream's position, the last saved step) and the three things done with
it: run a step, save a checkpoint with its sidecar (`checkpoints.write_step_state`), and end
an epoch (validation, the log row, ``best.keras``, callbacks). Everything it needs is built
before it starts (`danet_tf.training.trainer`); everything it leaves is read after it ends.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from danet_tf.config import Config
from danet_tf.training.checkpoints import prune_step_state, write_step_state
from danet_tf.training.logs import TrainLogger
from danet_tf.training.monitor import Monitor
from danet_tf.training.step import NonFiniteError, all_finite, likely_cause


class TrainLoop:
    """Run steps ``start_step .. total_steps`` of one run (or until a callback stops it).

    ``resumed`` is the sidecar of the checkpoint the run resumed from (`read_step_state`):
    the epoch's loss sums and the stream position. ``stream`` is shared with the input
    pipeline's ``dataset_fn``: ``start`` is where the pipeline began serving, ``served`` how
    far the steps have consumed it (dropped samples included).
    """

    def __init__(self, cfg: Config, *, model: keras.Model, optimizer, manager,
                 write_dir, train_step: Callable, iterator, logger: TrainLogger,
                 monitor: Monitor, callbacks: keras.callbacks.CallbackList,
                 start_step: int, saved_step: int | None, steps_per_epoch: int,
                 total_steps: int, global_batch: int, resumed: dict, stream: dict,
                 chief: bool, builder: Callable, num_keypoints: int):
        self.cfg = cfg
        self.model, self.optimizer, self.manager = model, optimizer, manager
        self.write_dir = write_dir
        self.train_step, self.iterator = train_step, iterator
        self.logger, self.monitor, self.cb = logger, monitor, callbacks
        self.start_step = self.step = start_step
        self.saved = saved_step or 0
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.global_batch = global_batch
        self.stream = stream
        self.chief = chief
        self.builder, self.num_keypoints = builder, num_keypoints  # for best.keras
        self.logs: dict[str, float] = {}
        # The epoch's running loss sums travel with each checkpoint (a sidecar), so a
        # resumed epoch reports the same means as an uninterrupted one.
        self.sums: dict[str, float] = dict(resumed.get("sums", {}))
        # The first step the sums cover: the start of the epoch they belong to (an epoch's
        # last checkpoint holds its full sums), or the resumed step for one without sums.
        self.counted_from = ((self.step - 1) // steps_per_epoch * steps_per_epoch
                             if self.sums else self.step)
        self.stopped = False
        self.lr = float(optimizer.learning_rate)

    def save(self, at: int) -> None:
        """Checkpoint step ``at`` (refusing non-finite weights) with its sidecar."""
        variables = list(self.model.weights) + list(self.optimizer.variables)
        if not all_finite(variables):
            raise NonFiniteError(
                f"non-finite weights at step {at}: not saved; the last checkpoint is step "
                f"{self.saved}. Likely cause: "
                + likely_cause("weights", self.lr, at, False, self.cfg))
        write_step_state(self.write_dir, at, {"sums": self.sums,
                                              "position": self.stream["served"]})
        self.manager.save(checkpoint_number=at)
        prune_step_state(self.write_dir)
        self.saved = at

    def finish_epoch(self, epoch: int) -> dict[str, float]:
        """The epoch's mean losses and validation metrics: logged, monitored, called back."""
        n = max(1, self.step - self.counted_from)
        epoch_logs = {k: v / n for k, v in self.sums.items()}
        epoch_logs["lr"] = float(self.optimizer.learning_rate)
        epoch_logs.update(self.monitor.validate(epoch, self.step))
        self.logger.end_epoch(epoch, self.step, epoch_logs, self.monitor.epoch_skips(epoch))
        self.monitor.end_epoch(epoch, self.step, epoch_logs, self.builder, self.num_keypoints)
        self.cb.on_epoch_end(epoch, dict(epoch_logs))
        return epoch_logs

    def one_step(self, batch_index: int, epoch: int) -> None:
        """One optimizer step: stream position, finiteness, sums, log line, callbacks."""
        cfg, step_index = self.cfg, self.step
        self.lr = lr = float(self.optimizer.learning_rate)
        self.cb.on_train_batch_begin(batch_index)
        out = self.train_step(self.iterator)
        self.step = step = step_index + 1
        logs = {k: float(v) for k, v in out.items()}
        grad_norm = logs.pop("grad_norm", 0.0)
        last = int(out["serial"])
        logs.pop("serial")
        if last >= 0:
            self.stream["served"] = self.stream["start"] + last + 1
        for what, value in (("loss", logs["loss"]), ("gradient", grad_norm)):
            if not np.isfinite(value):
                raise NonFiniteError(
                    f"non-finite {what} ({value}) at step {step} (learning rate {lr:.4g}); "
                    f"the run stopped before writing it anywhere: the last checkpoint is "
                    f"step {self.saved}. Likely cause: "
                    + likely_cause(what, lr, step, step == self.start_step + 1, cfg))
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        logs["lr"] = lr
        write = step % cfg.train.log_every_steps == 0 or step % self.steps_per_epoch == 0
        done = step - epoch * self.steps_per_epoch
        means = {k: v / (step - self.counted_from) for k, v in self.sums.items()} | {"lr": lr}
        self.logger.step(step, done, logs, means, self.global_batch, write)
        self.cb.on_train_batch_end(batch_index, dict(logs))
        self.logs = logs

    def run(self) -> None:
        """Train to ``total_steps``; checkpoint every ``checkpoint_every_steps`` and at each
        epoch end; end each epoch. Sets ``step``, ``logs`` and ``stopped``."""
        spe, every = self.steps_per_epoch, self.cfg.train.checkpoint_every_steps
        self.model.stop_training = False
        self.cb.on_train_begin()
        try:
            if (self.chief and self.step and self.step % spe == 0
                    and self.logger.epoch_logged(self.step) is False):
                # Killed between the epoch's last checkpoint and its row: validate, log and
                # pick best.keras now, from the same weights.
                self.monitor.start_epoch()
                self.logs = self.finish_epoch(self.step // spe - 1)
            while self.step < self.total_steps and not self.stopped:
                epoch, in_epoch = divmod(self.step, spe)
                self.logger.start_epoch(epoch, self.cfg.train.epochs, in_epoch)
                self.monitor.start_epoch()
                self.cb.on_epoch_begin(epoch)
                if in_epoch == 0:
                    self.sums, self.counted_from = {}, self.step
                for batch_index in range(in_epoch, spe):
                    self.one_step(batch_index, epoch)
                    if self.model.stop_training:
                        self.stopped = True
                        break
                    if self.step % spe and self.step % every == 0:
                        self.save(self.step)
                self.save(self.step)
                self.logs = self.finish_epoch(epoch)
                self.stopped = self.stopped or bool(self.model.stop_training)
        finally:
            self.logger.close()
        self.cb.on_train_end(dict(self.logs))


def dataset_function(inputs, global_batch: int, seed: int, start_step: int, resumed: dict,
                     stream: dict) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """The ``dataset_fn`` for ``strategy.distribute_datasets_from_function``.

    Each pipeline serves ``global_batch / num_input_pipelines`` samples per step; on resume it
    starts where the interrupted run's pipeline had got to: the position recorded with the
    checkpoint (dropped samples included), else ``step x batch``. Records the start in
    ``stream`` (`TrainLoop`)."""

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = ctx.get_per_replica_batch_size(global_batch)
        start = resumed.get("position", start_step * (global_batch // ctx.num_input_pipelines))
        stream.update(start=int(start), served=int(start))
        return inputs.make_train(batch, seed, ctx.num_input_pipelines, ctx.input_pipeline_id,
                                 int(start))

    return dataset_fn
