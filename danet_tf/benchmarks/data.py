"""Input-pipeline throughput against a JPEG-decode-only baseline on the same images."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_edge.codec import HeatmapCodec
from danet_tf.data.dataset import PoseDataset
from danet_tf.data.pipeline import build_dataset


@dataclasses.dataclass
class BenchmarkResult:
    """Best-of-repeats rates; CPU times are process CPU seconds per sample (all threads),
    which other processes on a shared machine disturb much less than wall time."""

    samples: int  # persons per timed pass
    decode_per_s: float  # the faster decode-only baseline (images/s)
    pipeline_per_s: float  # build_dataset: read, plan, decode, warp, batch (samples/s)
    decode_cpu_ms: float
    pipeline_cpu_ms: float
    threads: int
    input_size: tuple[int, int]
    levels: int  # heatmap levels rendered in the pipeline (0: the train step renders them)
    image_dtype: str = "uint8"
    baselines: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.pipeline_per_s / self.decode_per_s

    @property
    def cpu_ratio(self) -> float:
        return self.decode_cpu_ms / self.pipeline_cpu_ms

    def report(self) -> str:
        targets = f"{self.levels} heatmap levels" if self.levels else "keypoint targets"
        lines = [f"samples={self.samples} threads={self.threads} input={self.input_size[0]}x"
                 f"{self.input_size[1]} {self.image_dtype} images, {targets}"]  # fmt: skip
        for name, (rate, cpu_ms) in self.baselines.items():
            lines.append(f"decode-only ({name + ')':17s}: {rate:8.1f} images/s "
                         f"({cpu_ms:.3f} CPU-ms each)")  # fmt: skip
        lines += [
            f"full pipeline                 : {self.pipeline_per_s:8.1f} samples/s "
            f"({self.pipeline_cpu_ms:.3f} CPU-ms each)",
            f"ratio to the faster decode    : {100 * self.ratio:8.1f} % (wall rates), "
            f"{100 * self.cpu_ratio:.1f} % (CPU time per sample)",
        ]
        return "\n".join(lines)


def _options(threads: int) -> tf.data.Options:
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    return options


def decode_only_dataset(paths: list[str], threads: int, decoder: str = "tf") -> tf.data.Dataset:
    """Read + decode every file in a parallel map; yields only the shapes (nothing to copy).

    ``decoder``: "tf" (`tf.io.decode_jpeg` with its default, fastest IDCT) or "opencv"
    (`cv2.imdecode` in a `tf.numpy_function`, as the pipeline decoded before).
    """

    def tf_decode(path: tf.Tensor) -> tf.Tensor:
        return tf.shape(tf.io.decode_jpeg(tf.io.read_file(path), channels=3))

    def cv_shape(path: bytes) -> np.ndarray:
        image = cv2.imdecode(np.fromfile(path.decode(), np.uint8), cv2.IMREAD_COLOR)
        return np.array(image.shape, np.int32)

    def cv_decode(path: tf.Tensor) -> tf.Tensor:
        return tf.numpy_function(cv_shape, [path], tf.int32, stateful=False)

    decode = {"tf": tf_decode, "opencv": cv_decode}[decoder]
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
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    threads: int | None = None,
    repeats: int = 3,
    seed: int = 0,
    encode_targets: bool = False,
    image_dtype: str = "uint8",
) -> BenchmarkResult:
    """Time decode-only and the full training pipeline on ``num_samples`` persons.

    The pipeline runs as `tools/train.py` builds it (training augmentation, uint8 images,
    keypoint targets that the train step renders) unless ``encode_targets`` / ``image_dtype``
    say otherwise. Decode-only runs with TensorFlow's and OpenCV's decoders, and the ratio
    is taken to the faster. All read the same files (the page cache is warmed first);
    passes alternate and each figure is the best of ``repeats``. ``threads`` caps the
    tf.data thread pool (default: CPU count).
    """
    threads = threads or os.cpu_count() or 1
    reps = -(-num_samples // len(dataset))  # a small dataset is cycled up to num_samples
    subset = dataclasses.replace(dataset, samples=(dataset.samples * reps)[:num_samples])
    paths = [s.image_path for s in subset.samples]
    for p in paths:  # warm the page cache so neither pass measures the disk
        Path(p).read_bytes()
    codec = HeatmapCodec.for_input(tuple(input_size))
    pipe = build_dataset(subset, batch_size=batch_size, codec=codec, seed=seed,
                         repeat=False, drop_remainder=True, encode_targets=encode_targets,
                         image_dtype=image_dtype)  # fmt: skip
    runs = {
        "tf.io.decode_jpeg": decode_only_dataset(paths, threads, "tf"),
        "cv2.imdecode": decode_only_dataset(paths, threads, "opencv"),
        "pipeline": pipe.with_options(_options(threads)),
    }
    for ds in runs.values():  # warm-up: tracing, thread pools, autotuning
        for _ in ds.take(2):
            pass
    best = {name: (0.0, 1e9) for name in runs}
    for _ in range(repeats):  # interleaved, so all see the same machine load
        for name, ds in runs.items():
            n, wall, cpu = _timed_pass(ds)
            rate, cpu_ms = best[name]
            best[name] = (max(rate, n / wall), min(cpu_ms, 1e3 * cpu / n))
    pipeline = best.pop("pipeline")
    fastest = max(best, key=lambda name: best[name][0])
    levels = len(set(pipe.element_spec[1]) - {"weights", "visible"}) if encode_targets else 0
    return BenchmarkResult(len(paths), best[fastest][0], pipeline[0], best[fastest][1],
                           pipeline[1], threads, tuple(input_size), levels,
                           tf.as_dtype(image_dtype).name, best)  # fmt: skip
