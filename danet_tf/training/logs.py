"""What the training loop reports: Keras progress bar, TensorBoard scalars and CSV logs.

Only the chief worker writes. ``log.csv`` gets a row every ``log_every_steps`` steps and
``epochs.csv`` a row per epoch; on resume both are cut back to the restored step, so the
files read as one uninterrupted run.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

# What tensorboard.summary.scalar writes; written directly so that logging needs only
# TensorFlow (the tensorboard package is only needed to view the events).
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR,
)


def _truncate_csv(path: Path, max_step: int) -> None:
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keep = [r for r in rows if int(float(r["step"])) <= max_step]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)


class CsvLog:
    """Append-only CSV whose columns are fixed by the first row written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, row: dict[str, float | int]) -> None:
        new = not self.path.is_file() or self.path.stat().st_size == 0
        if not new:
            with self.path.open(newline="") as f:
                fields = next(csv.reader(f))
        else:
            fields = list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


class TrainLogger:
    """Progress bar, TensorBoard and CSV for the chief; a no-op elsewhere."""

    def __init__(self, workdir: Path, *, enabled: bool, verbose: int, steps_per_epoch: int,
                 start_step: int) -> None:
        self.enabled = enabled
        self.verbose = verbose
        self.steps_per_epoch = steps_per_epoch
        self.progbar: keras.utils.Progbar | None = None
        self._t0 = time.perf_counter()
        self._last_step = start_step
        if not enabled:
            self.writer = None
            return
        workdir.mkdir(parents=True, exist_ok=True)
        self.step_log = CsvLog(workdir / "log.csv")
        self.epoch_log = CsvLog(workdir / "epochs.csv")
        _truncate_csv(self.step_log.path, start_step)
        _truncate_csv(self.epoch_log.path, start_step)
        self.writer = tf.summary.create_file_writer(str(workdir / "tensorboard"))

    def start_epoch(self, epoch: int, epochs: int, done_in_epoch: int) -> None:
        if self.enabled and self.verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            self.progbar = keras.utils.Progbar(self.steps_per_epoch, verbose=self.verbose)
            if done_in_epoch:
                self.progbar.update(done_in_epoch)

    def step(self, step: int, in_epoch: int, logs: dict[str, float], means: dict[str, float],
             batch: int, write: bool) -> None:
        """``logs``: this step's values (CSV, TensorBoard); ``means``: the epoch's running
        means so far (progress bar; Keras 3's Progbar shows the values it is given)."""
        if not self.enabled:
            return
        if self.progbar is not None:
            self.progbar.update(in_epoch, list(means.items()))
        if write:
            now = time.perf_counter()
            rate = (step - self._last_step) * batch / max(now - self._t0, 1e-9)
            self._t0, self._last_step = now, step
            row = {"step": step, "epoch": step / self.steps_per_epoch, **logs,
                   "samples_per_s": rate}
            self.step_log.write(row)
            self._scalars(step, {**logs, "samples_per_s": rate}, prefix="train/")

    def end_epoch(self, epoch: int, step: int, logs: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.epoch_log.write({"epoch": epoch + 1, "step": step, **logs})
        self._scalars(step, {k: v for k, v in logs.items() if k.startswith("val")}, prefix="")
        if self.verbose and any(k.startswith("val") for k in logs):
            vals = ", ".join(f"{k}={v:.4f}" for k, v in logs.items() if k.startswith("val"))
            print(f"epoch {epoch + 1}: {vals}", flush=True)

    def _scalars(self, step: int, logs: dict[str, float], prefix: str) -> None:
        if self.writer is None or not logs:
            return
        with self.writer.as_default(step=step):
            for key, value in logs.items():
                tf.summary.write(prefix + key, tf.constant(value, tf.float32),
                                 metadata=_SCALAR_METADATA)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
