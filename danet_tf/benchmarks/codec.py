"""Measure what the codec costs per person (encode, and decode in every mode)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np

from danet_edge.codec.heatmap import DECODE_MODES, HeatmapCodec


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def benchmark_codec(
    codec: HeatmapCodec,
    num_keypoints: int = 17,
    batch_sizes: Sequence[int] = (1, 32),
    repeats: int = 20,
    threads: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """Median wall time per person, in ms, for ``encode`` and ``decode`` in each mode.

    Heatmaps are encodings of random poses (the decoders' cost does not depend on content,
    except DARK's Taylor step, which every interior peak takes). ``threads`` sets OpenCV's
    thread count (the blur); numpy's code here is single-threaded.
    """
    if threads is not None:
        cv2.setNumThreads(threads)
    rng = np.random.default_rng(seed)
    in_h, in_w = codec.input_size
    poses = np.concatenate(
        [rng.uniform([8, 8], [in_w - 8, in_h - 8], (max(batch_sizes), num_keypoints, 2)),
         np.full((max(batch_sizes), num_keypoints, 1), 2.0)], axis=-1,
    )  # fmt: skip
    maps = np.stack([codec.encode(p)[0] for p in poses])
    rows = [
        {"op": "encode", "batch": 1,
         "ms_per_person": 1e3 * _median_seconds(lambda: codec.encode(poses[0]), repeats)}
    ]  # fmt: skip
    for n in batch_sizes:
        batch = maps[:n]
        for mode in DECODE_MODES:
            sec = _median_seconds(lambda b=batch, m=mode: codec.decode(b, m), repeats)
            rows.append({"op": f"decode {mode}", "batch": n, "ms_per_person": 1e3 * sec / n})
    return rows
