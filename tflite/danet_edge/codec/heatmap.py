"""Gaussian heatmap encoding and the three decoders (see the package docstring for conventions)."""

from __future__ import annotations

import cv2
import numpy as np

DECODE_MODES = ("shift", "blur_shift", "dark")
# Default blur kernel of ``blur_shift`` on 64x48 heatmaps. The DANet authors' test code blurred
# with 17x17 (``test_gaussian_kernel`` in their MegEngine config.py; `codec.authors` reproduces
# their whole decode); 5 is this codec's own choice, kept so that earlier blur_shift results
# stay comparable. ``HeatmapCodec(..., blur_kernel=17)`` selects theirs. DARK used 11.
BLUR_SHIFT_KERNEL = 5
DARK_KERNEL = 11
SHIFT = 0.25
DECODE_CHUNK = 8


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
    """Encode keypoints to Gaussian heatmaps and decode heatmaps to keypoints.

    Args:
        input_size: network input (crop) size (h, w) in pixels.
        heatmap_size: heatmap size (h, w); the stride is input_size / heatmap_size.
        sigma: Gaussian standard deviation in heatmap cells.
        blur_kernel: odd size of the Gaussian blur of ``blur_shift`` decoding, in cells
            (OpenCV derives its sigma from the size: 1.1 for 5, 2.9 for 17).
    """

    def __init__(
        self,
        input_size: tuple[int, int] = (256, 192),
        heatmap_size: tuple[int, int] = (64, 48),
        sigma: float = 2.0,
        blur_kernel: int = BLUR_SHIFT_KERNEL,
    ) -> None:
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f"input_size must be positive (h, w), got {input_size!r}")
        if len(heatmap_size) != 2 or min(heatmap_size) <= 0:
            raise ValueError(f"heatmap_size must be positive (h, w), got {heatmap_size!r}")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        if int(blur_kernel) != blur_kernel or blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ValueError(f"blur_kernel must be a positive odd integer, got {blur_kernel!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.blur_kernel = int(blur_kernel)
        # (x, y) order, like the points.
        self.stride = np.array(
            [input_size[1] / heatmap_size[1], input_size[0] / heatmap_size[0]], dtype=np.float64
        )

    def __repr__(self) -> str:
        return (
            f"HeatmapCodec(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"sigma={self.sigma}, blur_kernel={self.blur_kernel})"
        )

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

    def decode(self, heatmaps: np.ndarray, mode: str = "shift") -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (N, H, W, K) -> coords (N, K, 2) in input-crop pixels, scores (N, K).

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
