"""A perfect "model" for pipeline tests: it renders the target pose of each crop it is fed.

It sees crops in the order `predict_persons` runs them and knows each person's target
keypoints (image pixels), so everything around the network - crop geometry, the flip test,
decoding, the way back to image pixels, rescoring, NMS - is tested against the truth.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence

import numpy as np

from danet_tf.codec import HeatmapCodec, affine_points, flip_heatmaps, get_affine_transform
from danet_tf.evaluation import Person
from tests.harness import REPO


class OraclePredictor:
    def __init__(
        self,
        persons: Sequence[Person],
        targets: Sequence[np.ndarray | None],
        codec: HeatmapCodec,
        flip_pairs: Sequence[Sequence[int]],
        num_keypoints: int,
        flip: bool = True,
        crop_matrix: Callable[[Person], np.ndarray] | None = None,
        keep_batches: bool = False,
    ) -> None:
        """``crop_matrix``: image -> crop affine of a person (default: the codec's geometry;
        the authors' protocol passes theirs). ``keep_batches`` keeps the input batches."""
        self.flip = flip
        self.keep_batches = keep_batches
        self.batches: list[np.ndarray] = []
        self.maps = []
        for person, target in zip(persons, targets, strict=True):
            if target is None:
                self.maps.append(np.zeros((*codec.heatmap_size, num_keypoints), np.float32))
                continue
            if crop_matrix is None:
                m = get_affine_transform(person.center, person.scale, 0.0, codec.input_size)
            else:
                m = crop_matrix(person)
            kpts = np.asarray(target, np.float64).copy()
            kpts[:, :2] = affine_points(kpts[:, :2], m)
            self.maps.append(codec.encode(kpts)[0])
        self.flip_pairs = flip_pairs
        self.cursor = 0
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.keep_batches:
            self.batches.append(np.array(batch))
        n = len(batch) // 2 if self.flip else len(batch)
        maps = np.stack(self.maps[self.cursor : self.cursor + n])
        self.cursor += n
        if self.flip:
            # What a perfect model predicts on the mirrored crops.
            maps = np.concatenate([maps, flip_heatmaps(maps, self.flip_pairs)])
        return maps


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ax1, ay1, aw, ah = a
    bx1, by1, bw, bh = b
    iw = max(0.0, min(ax1 + aw, bx1 + bw) - max(ax1, bx1))
    ih = max(0.0, min(ay1 + ah, by1 + bh) - max(ay1, by1))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter + 1e-9)





def run_eval_cli(*args: str) -> subprocess.CompletedProcess:
    """``tools/eval.py --no-progress ARGS`` in a child process, output captured."""
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "eval.py"), "--no-progress", *args],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
