"""Gaussian heatmap encoding and the three decoders (see the package docstring for conventions)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from danet_edge.choices import DECODE_MODES, DEFAULT_INPUT_SIZE

# Default blur kernel of ``blur_shift`` on 64x48 heatmaps. The DANet authors' test code blurred
# with 17x17 (``test_gaussian_kernel`` in their MegEngine config.py; `codec.authors` reproduces
# their whole decode); 5 is this codec's own choice, kept so that earlier blur_shift results
# stay comparable. ``HeatmapCodec(..., blur_kernel=17)`` selects theirs. DARK used 11.
BLUR_SHIFT_KERNEL = 5
DARK_KERNEL = 11
SHIFT = 0.25
DECODE_CHUNK = 8
# Gaussian sigma (heatmap cells at stride 4) of each supervised level's training target,
# after the authors' code: coarser levels learn blurrier targets. "heatmaps" is the finest
# level, the only one an inference model keeps; its sigma is the codec's ``sigma``.
DEFAULT_LEVEL_SIGMAS = {
    "heatmaps_s32": 2.6,
    "heatmaps_s16": 2.0,
    "heatmaps_s8": 1.7,
    "heatmaps": 1.4,
}
FINEST_LEVEL = "heatmaps"
# Input pixels per heatmap cell: every model of the zoo regresses heatmaps at 1/4 of its input.
DEFAULT_STRIDE = 4


def _blur(maps: np.ndarray, kernel: int, border: int) -> np.ndarray:
    """Gaussian blur of each (H, W) map of (N, K, H, W).

    The references rescaled each blurred map to its old peak height; neither decoder needs
    that (argmax and log-derivatives ignore a constant factor) and scores use the raw maps.
    """
    n, k, h, w = maps.shape
    flat = maps.reshape(n * k, h, w)
    out = np.empty_like(flat)
    for i in range(n * k):
        out[i] = cv2.GaussianBlur(flat[i], (kernel, kernel), 0, borderType=border)
    return out.reshape(maps.shape)


class HeatmapCodec:
    """Every setting that turns keypoints into heatmaps and back, declared once.

    Training targets, validation, evaluation, export metadata and every runtime build their
    codec from the same values: a config's ``codec`` section or an artifact's metadata
    (:meth:`from_dict`), and write it back with :meth:`to_dict`. No other module holds a
    default for any of these.

    Args:
        input_size: network input (crop) size (h, w) in pixels.
        heatmap_size: heatmap size (h, w); the stride is input_size / heatmap_size.
        sigma: Gaussian standard deviation in heatmap cells of :meth:`encode` (the finest
            level's training target).
        blur_kernel: odd size of the Gaussian blur of ``blur_shift`` decoding, in cells
            (OpenCV derives its sigma from the size: 1.1 for 5, 2.9 for 17).
        decode_mode: the decoder :meth:`decode` uses by default (``DECODE_MODES``).
        padding: person box -> crop region enlargement (1.25: the box fills 80 %).
        flip_test: average each crop's heatmaps with its mirror's at test time.
        level_sigmas: training target sigma per supervised pyramid level; None: the
            defaults, with the finest level at ``sigma``.
    """

    def __init__(
        self,
        input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
        heatmap_size: tuple[int, int] = (DEFAULT_INPUT_SIZE[0] // DEFAULT_STRIDE,
                                         DEFAULT_INPUT_SIZE[1] // DEFAULT_STRIDE),
        sigma: float = DEFAULT_LEVEL_SIGMAS[FINEST_LEVEL],
        blur_kernel: int = BLUR_SHIFT_KERNEL,
        decode_mode: str = "blur_shift",
        padding: float = 1.25,
        flip_test: bool = True,
        level_sigmas: Mapping[str, float] | None = None,
    ) -> None:
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f"input_size must be positive (h, w), got {input_size!r}")
        if len(heatmap_size) != 2 or min(heatmap_size) <= 0:
            raise ValueError(f"heatmap_size must be positive (h, w), got {heatmap_size!r}")
        _positive("sigma", sigma)
        if int(blur_kernel) != blur_kernel or blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be a positive odd integer, got {blur_kernel!r}")
        if decode_mode not in DECODE_MODES:
            raise ValueError(
                f"unknown decode mode {decode_mode!r}; known: {', '.join(DECODE_MODES)}"
            )
        _positive("padding", padding)
        if padding < 1.0:
            raise ValueError(
                f"padding must be >= 1 (the crop holds the whole box), got {padding!r}"
            )
        if not isinstance(flip_test, bool):
            raise ValueError(f"flip_test must be true or false, got {flip_test!r}")
        levels = dict(DEFAULT_LEVEL_SIGMAS, **{FINEST_LEVEL: float(sigma)})
        if level_sigmas is not None:
            levels = {str(k): float(v) for k, v in dict(level_sigmas).items()}
            for name, value in levels.items():
                _positive(f"level_sigmas[{name!r}]", value)
            if FINEST_LEVEL in levels and levels[FINEST_LEVEL] != float(sigma):
                raise ValueError(
                    f"level_sigmas[{FINEST_LEVEL!r}] = {levels[FINEST_LEVEL]} disagrees with "
                    f"sigma = {sigma}; give one of them"
                )
            levels.setdefault(FINEST_LEVEL, float(sigma))
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.blur_kernel = int(blur_kernel)
        self.decode_mode = str(decode_mode)
        self.padding = float(padding)
        self.flip_test = flip_test
        self.level_sigmas = levels
        # (x, y) order, like the points.
        self.stride = np.array(
            [input_size[1] / heatmap_size[1], input_size[0] / heatmap_size[0]], dtype=np.float64
        )

    FIELDS = ("input_size", "heatmap_size", "sigma", "blur_kernel", "decode_mode", "padding",
              "flip_test", "level_sigmas")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values of every setting; :meth:`from_dict` reads them back."""
        out = {name: getattr(self, name) for name in self.FIELDS}
        out["input_size"], out["heatmap_size"] = list(self.input_size), list(self.heatmap_size)
        out["level_sigmas"] = dict(self.level_sigmas)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "codec") -> HeatmapCodec:
        """A codec from a config section or metadata; unknown keys are an error naming them."""
        if not isinstance(values, Mapping):
            raise ValueError(f"{where} must be a mapping, got {type(values).__name__}")
        unknown = sorted(set(values) - set(cls.FIELDS))
        if unknown:
            raise ValueError(
                f"{where}: unknown codec settings {unknown}; known: {list(cls.FIELDS)}"
            )
        kwargs = dict(values)
        for key in ("input_size", "heatmap_size"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    @classmethod
    def for_input(
        cls, input_size: tuple[int, int], stride: int | None = None, **settings: Any
    ) -> HeatmapCodec:
        """The codec of a network with input ``input_size`` (h, w) and heatmaps at ``stride``
        (None: ``DEFAULT_STRIDE``); the other settings as the constructor's."""
        stride = DEFAULT_STRIDE if stride is None else stride
        if int(stride) != stride or stride < 1:
            raise ValueError(f"heatmap stride must be a positive integer, got {stride!r}")
        h, w = (int(v) for v in input_size)
        if h % stride or w % stride:
            raise ValueError(f"input size {h}x{w} is not a multiple of the heatmap stride {stride}")
        return cls((h, w), (h // int(stride), w // int(stride)), **settings)

    def for_level(self, level: str) -> HeatmapCodec:
        """This codec encoding with the training target sigma of pyramid ``level``."""
        if level not in self.level_sigmas:
            raise ValueError(
                f"no target sigma for level {level!r}; known: {list(self.level_sigmas)}"
            )
        return self.replace(sigma=self.level_sigmas[level], level_sigmas=None)

    def replace(self, **changes: Any) -> HeatmapCodec:
        """A copy with some settings changed (e.g. ``flip_test=False``)."""
        values = self.to_dict()
        if "sigma" in changes and "level_sigmas" not in changes:
            values["level_sigmas"] = dict(
                values["level_sigmas"], **{FINEST_LEVEL: changes["sigma"]}
            )
        values.update(changes)
        return type(self).from_dict(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeatmapCodec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "HeatmapCodec(" + ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items()) + ")"

    def to_heatmap(self, points: np.ndarray) -> np.ndarray:
        """Input-crop pixels (..., 2) -> heatmap cell coordinates (..., 2)."""
        return (np.asarray(points, dtype=np.float64) + 0.5) / self.stride - 0.5

    def to_input(self, cells: np.ndarray) -> np.ndarray:
        """Heatmap cell coordinates (..., 2) -> input-crop pixels (..., 2)."""
        return (np.asarray(cells, dtype=np.float64) + 0.5) * self.stride - 0.5

    def encode(self, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (K, 3) x, y, visibility in input-crop pixels -> heatmaps (H, W, K), weights (K,).

        Invisible joints (visibility <= 0) and joints outside the crop get a zero map, weight 0.
        """
        kpts = np.asarray(keypoints, dtype=np.float64)
        if kpts.ndim != 2 or kpts.shape[1] != 3:
            raise ValueError(f"keypoints must be (K, 3) x, y, visibility; got shape {kpts.shape}")
        h, w = self.heatmap_size
        in_h, in_w = self.input_size
        x, y = kpts[:, 0], kpts[:, 1]
        inside = (x >= -0.5) & (x < in_w - 0.5) & (y >= -0.5) & (y < in_h - 0.5)
        valid = (kpts[:, 2] > 0) & inside & np.isfinite(x) & np.isfinite(y)
        mu = self.to_heatmap(np.where(valid[:, None], kpts[:, :2], 0.0))
        gx = np.exp(-((np.arange(w)[:, None] - mu[None, :, 0]) ** 2) / (2 * self.sigma**2))
        gy = np.exp(-((np.arange(h)[:, None] - mu[None, :, 1]) ** 2) / (2 * self.sigma**2))
        heatmaps = gy[:, None, :] * gx[None, :, :] * valid[None, None, :]
        return heatmaps.astype(np.float32), valid.astype(np.float32)

    def decode(
        self, heatmaps: np.ndarray, mode: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, H, W, K) -> coords (N, K, 2) in input-crop pixels, scores (N, K).

        ``mode`` None uses the codec's ``decode_mode``.

        Modes: ``shift`` (argmax, quarter-cell step toward the higher neighbour per axis),
        ``blur_shift`` (the DANet/MSPN test protocol: Gaussian blur, then a quarter-cell step
        from the maximum toward the second-highest response), ``dark`` (DARK: blur, log, and a
        second-order Taylor step). The score is the raw heatmap maximum in every mode.
        """
        hm = np.asarray(heatmaps, dtype=np.float32)
        if hm.ndim != 4:
            raise ValueError(f"heatmaps must be (N, H, W, K), got shape {hm.shape}")
        if hm.shape[1:3] != self.heatmap_size:
            raise ValueError(
                f"heatmaps are {hm.shape[1:3]} (h, w) but the codec expects {self.heatmap_size}"
            )
        mode = self.decode_mode if mode is None else mode
        if mode not in DECODE_MODES:
            raise ValueError(f"unknown decode mode {mode!r}; known: {', '.join(DECODE_MODES)}")
        # A few persons at a time keep the working set in cache: in one piece, a batch of 32
        # decoded slower per person than a batch of 1; chunks of 8 measured fastest (of 1-32).
        coords, scores = [], []
        for start in range(0, hm.shape[0], DECODE_CHUNK):
            xy, s = self._decode_chunk(hm[start : start + DECODE_CHUNK], mode)
            coords.append(xy)
            scores.append(s)
        if not coords:
            k = hm.shape[-1]
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        return np.concatenate(coords), np.concatenate(scores)

    def _decode_chunk(self, hm: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        # One transpose up front: every step below reads whole (H, W) maps.
        maps = np.ascontiguousarray(hm.transpose(0, 3, 1, 2))
        scores = maps.max(axis=(2, 3))
        if mode == "shift":
            peak = self._argmax(maps)
            cells = peak + self._neighbour_shift(maps, peak)
        elif mode == "blur_shift":
            # The reference padded with zeros, which drags peaks at the crop edge inward;
            # replicating the edge halves that error (measured on encoded ground truth).
            blurred = _blur(maps, self.blur_kernel, cv2.BORDER_REPLICATE)
            cells = self._second_max_shift(blurred)
        else:
            # Taylor step on the blurred log-map, from the raw map's argmax: starting from
            # the blurred map's argmax doubled the error near the crop edges.
            blurred = _blur(maps, DARK_KERNEL, cv2.BORDER_CONSTANT)
            cells = self._taylor(blurred, self._argmax(maps))
        return self.to_input(cells).astype(np.float32), scores.astype(np.float32)

    @staticmethod
    def _argmax(maps: np.ndarray) -> np.ndarray:
        """Integer (x, y) of each map's maximum, (N, K, 2) float64; maps are (N, K, H, W)."""
        n, k, h, w = maps.shape
        flat = maps.reshape(n, k, h * w).argmax(axis=-1)
        return np.stack([flat % w, flat // w], axis=-1).astype(np.float64)

    @staticmethod
    def _gather(maps: np.ndarray, xy: np.ndarray, dx: int, dy: int) -> np.ndarray:
        """Values at integer (x + dx, y + dy), clipped to the map, (N, K)."""
        n, k, h, w = maps.shape
        x = np.clip(xy[..., 0].astype(np.int64) + dx, 0, w - 1)
        y = np.clip(xy[..., 1].astype(np.int64) + dy, 0, h - 1)
        return maps[np.arange(n)[:, None], np.arange(k)[None, :], y, x].astype(np.float64)

    def _neighbour_shift(self, hm: np.ndarray, xy: np.ndarray) -> np.ndarray:
        _, _, h, w = hm.shape
        g = self._gather
        sx = np.sign(g(hm, xy, 1, 0) - g(hm, xy, -1, 0))
        sy = np.sign(g(hm, xy, 0, 1) - g(hm, xy, 0, -1))
        # Only interior peaks have two neighbours to compare (HRNet's rule).
        sx *= (xy[..., 0] > 0) & (xy[..., 0] < w - 1)
        sy *= (xy[..., 1] > 0) & (xy[..., 1] < h - 1)
        return SHIFT * np.stack([sx, sy], axis=-1)

    def _second_max_shift(self, hm: np.ndarray) -> np.ndarray:
        n, k, h, w = hm.shape
        first = self._argmax(hm)
        masked = hm.copy()
        ni, ki = np.arange(n)[:, None], np.arange(k)[None, :]
        masked[ni, ki, first[..., 1].astype(np.int64), first[..., 0].astype(np.int64)] = -np.inf
        delta = self._argmax(masked) - first
        length = np.linalg.norm(delta, axis=-1, keepdims=True)
        step = np.where(length > 1e-3, SHIFT * delta / np.maximum(length, 1e-3), 0.0)
        return np.clip(first + step, 0, [w - 1, h - 1])

    def _taylor(self, blurred: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Newton step on the log of the blurred map (only each peak's 3x3 is logged)."""
        _, _, h, w = blurred.shape
        # p[..., dy + 1, dx + 1] = log value at (x + dx, y + dy)
        p = np.stack(
            [
                np.stack([self._gather(blurred, xy, dx, dy) for dx in (-1, 0, 1)], -1)
                for dy in (-1, 0, 1)
            ],
            -2,
        )
        p = np.log(np.maximum(p, 1e-10))
        dx = 0.5 * (p[..., 1, 2] - p[..., 1, 0])
        dy = 0.5 * (p[..., 2, 1] - p[..., 0, 1])
        dxx = p[..., 1, 2] - 2 * p[..., 1, 1] + p[..., 1, 0]
        dyy = p[..., 2, 1] - 2 * p[..., 1, 1] + p[..., 0, 1]
        dxy = 0.25 * (p[..., 2, 2] - p[..., 0, 2] - p[..., 2, 0] + p[..., 0, 0])
        det = dxx * dyy - dxy**2
        interior = (xy[..., 0] > 0) & (xy[..., 0] < w - 1) & (xy[..., 1] > 0) & (xy[..., 1] < h - 1)
        # A maximum has a negative-definite Hessian; anywhere else the step is meaningless.
        ok = interior & (det > 1e-12) & (dxx < 0)
        safe = np.where(ok, det, 1.0)
        ox = -(dyy * dx - dxy * dy) / safe
        oy = -(dxx * dy - dxy * dx) / safe
        offset = np.clip(np.stack([ox, oy], axis=-1), -1.0, 1.0) * ok[..., None]
        return xy + offset


def _positive(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
