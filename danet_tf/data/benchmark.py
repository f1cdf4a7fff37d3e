"""Input-pipeline throughput against a JPEG-decode-only baseline on the same images."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import tensorflow as tf

from danet_tf.data.dataset import PoseDataset
from danet_tf.data.pipeline import build_dataset


@dataclasses.dataclass
class BenchmarkResult:
    """Best-of-repeats rates; CPU times are process CPU seconds per sample (all threads),
    which other processes on a shared machine disturb much less than wall time."""

    samples: int  # persons per timed pass
    decode_per_s: float  # tf.io.decode_jpeg in a parallel tf.data map (images/s)
    pipeline_per_s: float  # build_dataset: decode + augment + encode + batch (samples/s)
    decode_cpu_ms: float
    pipeline_cpu_ms: float
    threads: int
    input_size: tuple[int, int]
    levels: int

    @property
    def ratio(self) -> float:
        return self.pipeline_per_s / self.decode_per_s

    @property
    def cpu_ratio(self) -> float:
        return self.decode_cpu_ms / self.pipeline_cpu_ms

    def report(self) -> str:
        return (
            f"samples={self.samples} threads={self.threads} input={self.input_size[0]}x"
            f"{self.input_size[1]} heatmap levels={self.levels}\n"
            f"decode-only (tf.io.decode_jpeg): {self.decode_per_s:8.1f} images/s "
            f"({self.decode_cpu_ms:.3f} CPU-ms each)\n"
            f"full pipeline                  : {self.pipeline_per_s:8.1f} samples/s "
            f"({self.pipeline_cpu_ms:.3f} CPU-ms each)\n"
            f"ratio (wall rates)             : {100 * self.ratio:8.1f} %\n"
            f"ratio (CPU time per sample)    : {100 * self.cpu_ratio:8.1f} %"
        )


def _options(threads: int) -> tf.data.Options:
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    return options


def decode_only_dataset(paths: list[str], threads: int) -> tf.data.Dataset:
    """Read + decode every file in a parallel map; yields only the shapes (nothing to copy)."""

    def decode(path: tf.Tensor) -> tf.Tensor:
        return tf.shape(tf.io.decode_jpeg(tf.io.read_file(path), channels=3))

    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(64)
    return ds.with_options(_options(threads)).prefetch(tf.data.AUTOTUNE)


def _timed_pass(ds: tf.data.Dataset) -> tuple[int, float, float]:
    """(samples, wall seconds, process CPU seconds) of one pass over ``ds``."""
    wall, cpu, n = time.perf_counter(), time.process_time(), 0
    for batch in ds:
        n += int(tf.nest.flatten(batch)[0].shape[0])
    return n, time.perf_counter() - wall, time.process_time() - cpu


def run_benchmark(
    dataset: PoseDataset,
    *,
    num_samples: int = 1024,
    batch_size: int = 32,
    input_size: tuple[int, int] = (256, 192),
    threads: int | None = None,
    repeats: int = 3,
    seed: int = 0,
    encode_targets: bool = True,
) -> BenchmarkResult:
    """Time decode-only and the full training pipeline on the first ``num_samples`` persons.

    Both read the same files (the page cache is warmed first); passes alternate and each
    figure is the best of ``repeats``. ``threads`` caps the tf.data thread pool (default: CPU count).
    """
    threads = threads or os.cpu_count() or 1
    subset = dataclasses.replace(dataset, samples=dataset.samples[:num_samples])
    paths = [s.image_path for s in subset.samples]
    for p in paths:  # warm the page cache so neither pass measures the disk
        Path(p).read_bytes()
    decode_ds = decode_only_dataset(paths, threads)
    pipe = build_dataset(subset, batch_size=batch_size, input_size=input_size, seed=seed,
                         repeat=False, drop_remainder=True, encode_targets=encode_targets)  # fmt: skip
    pipe = pipe.with_options(_options(threads))
    for ds in (decode_ds, pipe):  # warm-up: tracing, thread pools, autotuning
        for _ in ds.take(2):
            pass
    best = {"decode": (0.0, 1e9), "pipe": (0.0, 1e9)}
    for _ in range(repeats):  # interleaved, so both see the same machine load
        for name, ds in (("decode", decode_ds), ("pipe", pipe)):
            n, wall, cpu = _timed_pass(ds)
            rate, cpu_ms = best[name]
            best[name] = (max(rate, n / wall), min(cpu_ms, 1e3 * cpu / n))
    levels = len(pipe.element_spec[1]) - 1 if encode_targets else 0
    return BenchmarkResult(
        len(paths),
        best["decode"][0],
        best["pipe"][0],
        best["decode"][1],
        best["pipe"][1],
        threads,
        tuple(input_size),
        levels,
    )
