"""What the training loop reports: progress, TensorBoard scalars and images, CSV logs.

Only the chief worker writes. ``log.csv`` gets a row every ``log_every_steps`` steps and
``epochs.csv`` a row per epoch; on resume both are cut back to the restored step, so the
files read as one uninterrupted run. Every write of a CSV rewrites the whole file atomically
(`danet_tf.atomic`: temporary file, fsync, rename), so a kill at any moment leaves
every row written before it (a few thousand rows for a long run: cheap).

Progress: on a terminal (``verbose: 1`` and stdout a TTY) a Keras progress bar; otherwise
(a log file, a pipe, CI, or ``verbose: 2``) one plain line every ``log_every_steps`` steps,
never the bar's backspaces.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from danet_tf.atomic import atomic_write_text

# What tensorboard.summary.scalar writes; written directly so that logging needs only
# TensorFlow (the tensorboard package is only needed to view the events).
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR,
)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a log CSV (a row cut short by an older, non-atomic writer is
    dropped)."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                continue
            try:
                float(row["step"])
            except (KeyError, TypeError, ValueError):
                continue
            rows.append(row)
    return rows


class CsvLog:
    """A CSV log rewritten atomically on every write; columns are the union of the rows'."""

    def __init__(self, path: Path, max_step: int | None = None) -> None:
        self.path = path
        self.rows: list[dict] = read_csv_rows(path)
        if max_step is not None:
            keep = [r for r in self.rows if int(float(r["step"])) <= max_step]
            if len(keep) != len(self.rows):
                self.rows = keep
                self._flush()

    def write(self, row: dict[str, float | int]) -> None:
        self.rows.append(dict(row))
        self._flush()

    def _flush(self) -> None:
        fields: list[str] = []
        for r in self.rows:
            fields.extend(k for k in r if k not in fields)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())


def _fmt(logs: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in logs.items())


class TrainLogger:
    """Progress, TensorBoard and CSV for the chief; a no-op elsewhere."""

    def __init__(self, workdir: Path, *, enabled: bool, verbose: int, steps_per_epoch: int,
                 start_step: int, total_steps: int = 0, progress_every: int = 10,
                 tty: bool | None = None) -> None:
        self.enabled = enabled
        self.verbose = verbose
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.progress_every = max(1, progress_every)
        self.progbar: keras.utils.Progbar | None = None
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._t0 = time.perf_counter()
        self._last_step = start_step
        self._line_t0 = time.perf_counter()
        self._line_step = start_step
        if not enabled:
            self.writer = None
            return
        workdir.mkdir(parents=True, exist_ok=True)
        self.step_log = CsvLog(workdir / "log.csv", start_step)
        self.epoch_log = CsvLog(workdir / "epochs.csv", start_step)
        self.writer = tf.summary.create_file_writer(str(workdir / "tensorboard"))

    @property
    def bar(self) -> bool:
        return self.verbose == 1 and self.tty

    def start_epoch(self, epoch: int, epochs: int, done_in_epoch: int) -> None:
        self._line_t0 = time.perf_counter()  # the rate excludes the last epoch's validation
        self._t0 = self._line_t0
        if self.enabled and self.verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
            if self.bar:
                self.progbar = keras.utils.Progbar(self.steps_per_epoch, verbose=1)
                if done_in_epoch:
                    self.progbar.update(done_in_epoch)

    def step(self, step: int, in_epoch: int, logs: dict[str, float], means: dict[str, float],
             batch: int, write: bool) -> None:
        """``logs``: this step's values (CSV, TensorBoard); ``means``: the epoch's running
        means so far (progress; Keras 3's Progbar shows the values it is given)."""
        if not self.enabled:
            return
        if self.progbar is not None:
            self.progbar.update(in_epoch, list(means.items()))
        elif self.verbose and (step % self.progress_every == 0 or in_epoch == self.steps_per_epoch):
            now = time.perf_counter()
            rate = (step - self._line_step) * batch / max(now - self._line_t0, 1e-9)
            self._line_t0, self._line_step = now, step
            shown = {k: v for k, v in means.items() if k in ("loss", "lr")}
            epoch = (step - 1) // self.steps_per_epoch + 1
            print(f"step {step}/{self.total_steps} (epoch {epoch}: {in_epoch}/"
                  f"{self.steps_per_epoch}) "
                  f"{_fmt(shown)} {rate:.1f} samples/s", flush=True)
        if write:
            now = time.perf_counter()
            rate = (step - self._last_step) * batch / max(now - self._t0, 1e-9)
            self._t0, self._last_step = now, step
            row = {"step": step, "epoch": step / self.steps_per_epoch, **logs,
                   "samples_per_s": rate}
            self.step_log.write(row)
            self._scalars(step, {**logs, "samples_per_s": rate}, prefix="train/")

    def epoch_logged(self, step: int) -> bool | None:
        """Whether ``epochs.csv`` has the row of the epoch that ended at ``step`` (None when
        this worker keeps no logs)."""
        if not self.enabled:
            return None
        return any(int(float(r["step"])) == step for r in self.epoch_log.rows)

    def end_epoch(self, epoch: int, step: int, logs: dict[str, float],
                  skipped: dict[str, dict[str, int]] | None = None) -> None:
        if not self.enabled:
            return
        row = {"epoch": epoch + 1, "step": step, **logs}
        if skipped is not None:
            row["skipped_train"] = sum(skipped.get("train", {}).values())
        self.epoch_log.write(row)
        self._scalars(step, {k: v for k, v in logs.items() if k.startswith("val")}, prefix="")
        if self.verbose:
            vals = ", ".join(f"{k}={v:.4f}" for k, v in logs.items() if k.startswith("val"))
            print(f"epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4g}"
                  + (f", {vals}" if vals else ""), flush=True)
            if skipped is not None:
                print(f"epoch {epoch + 1}: skipped samples: {describe_skips(skipped)}",
                      flush=True)

    def image(self, step: int, name: str, image: np.ndarray) -> None:
        """One (H, W, 3) uint8 picture into TensorBoard."""
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            tf.summary.image(name, image[None], max_outputs=1)
        self.writer.flush()

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


def describe_skips(skipped: dict[str, dict[str, int]]) -> str:
    parts = []
    for split, reasons in skipped.items():
        total = sum(reasons.values())
        detail = ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())) if reasons else ""
        parts.append(f"{split} {total}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts) if parts else "none"
