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
    samples: int  # persons per timed pass
    decode_per_s: float  # tf.io.decode_jpeg in a parallel tf.data map (images/s)
    pipeline_per_s: float  # build_dataset: decode + augment + encode + batch (samples/s)
    threads: int
    input_size: tuple[int, int]
    levels: int

    @property
    def ratio(self) -> float:
        return self.pipeline_per_s / self.decode_per_s

    def report(self) -> str:
        return (
            f"samples={self.samples} threads={self.threads} input={self.input_size[0]}x"
            f"{self.input_size[1]} levels={self.levels}\n"
            f"decode-only (tf.io.decode_jpeg): {self.decode_per_s:8.1f} images/s\n"
            f"full pipeline               : {self.pipeline_per_s:8.1f} samples/s\n"
            f"ratio                       : {100 * self.ratio:8.1f} %"
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


def _rate(ds: tf.data.Dataset, count_fn, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        start, n = time.perf_counter(), 0
        for batch in ds:
            n += count_fn(batch)
        best = max(best, n / (time.perf_counter() - start))
    return best


def run_benchmark(
    dataset: PoseDataset,
    *,
    num_samples: int = 1024,
    batch_size: int = 32,
    input_size: tuple[int, int] = (256, 192),
    threads: int | None = None,
    repeats: int = 2,
    seed: int = 0,
) -> BenchmarkResult:
    """Time decode-only and the full training pipeline on the first ``num_samples`` persons.

    Both passes read the same files (the page cache is warmed first); each rate is the best
    of ``repeats`` passes. ``threads`` caps the tf.data thread pool (default: CPU count).
    """
    threads = threads or os.cpu_count() or 1
    subset = dataclasses.replace(dataset, samples=dataset.samples[:num_samples])
    paths = [s.image_path for s in subset.samples]
    for p in paths:  # warm the page cache so neither pass measures the disk
        Path(p).read_bytes()
    decode = _rate(decode_only_dataset(paths, threads), lambda b: int(b.shape[0]), repeats)
    pipe = build_dataset(subset, batch_size=batch_size, input_size=input_size, seed=seed,
                         repeat=False, drop_remainder=True)  # fmt: skip
    pipe = pipe.with_options(_options(threads))
    rate = _rate(pipe, lambda b: int(b[0].shape[0]), repeats)
    levels = len(pipe.element_spec[1]) - 1
    return BenchmarkResult(len(paths), decode, rate, threads, tuple(input_size), levels)
