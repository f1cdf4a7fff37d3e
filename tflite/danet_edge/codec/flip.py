"""Horizontal-flip helpers for augmentation and the flip test."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _permutation(num_keypoints: int, flip_pairs: Sequence[Sequence[int]]) -> np.ndarray:
    perm = np.arange(num_keypoints)
    for a, b in flip_pairs:
        if not (0 <= a < num_keypoints and 0 <= b < num_keypoints):
            raise ValueError(f"flip pair {(a, b)!r} out of range for {num_keypoints} keypoints")
        perm[a], perm[b] = b, a
    return perm


def flip_heatmaps(
    heatmaps: np.ndarray,
    flip_pairs: Sequence[Sequence[int]],
    shift: bool = False,
) -> np.ndarray:
    """Map heatmaps predicted on a horizontally flipped crop back to the unflipped crop.

    Mirrors the W axis and swaps left/right channels; works on (H, W, K) and (N, H, W, K).

    ``shift=True`` also moves the result one heatmap pixel to the right, the fix-up that
    HRNet-style code needs because its heatmap-to-pixel map is off by half a cell. With this
    codec's pixel-centre convention the mirror is already exact, so the default is False;
    the option exists only for heatmaps from models trained with that other convention.
    """
    hm = np.asarray(heatmaps)
    if hm.ndim not in (3, 4):
        raise ValueError(f"heatmaps must be (H, W, K) or (N, H, W, K), got shape {hm.shape}")
    out = hm[..., ::-1, :][..., _permutation(hm.shape[-1], flip_pairs)]
    if shift:
        out = out.copy()
        out[..., 1:, :] = out[..., :-1, :]
    return np.ascontiguousarray(out)


def fuse_flip(
    heatmaps: np.ndarray,
    flipped_heatmaps: np.ndarray,
    flip_pairs: Sequence[Sequence[int]],
    shift: bool = False,
) -> np.ndarray:
    """Flip test: average heatmaps of the crop with those of its mirror image, flipped back."""
    hm = np.asarray(heatmaps, dtype=np.float32)
    back = flip_heatmaps(np.asarray(flipped_heatmaps, dtype=np.float32), flip_pairs, shift)
    if hm.shape != back.shape:
        raise ValueError(f"heatmap shapes differ: {hm.shape} vs flipped {back.shape}")
    return (hm + back) * 0.5


def flip_keypoints(
    keypoints: np.ndarray,
    flip_pairs: Sequence[Sequence[int]],
    image_width: int,
) -> np.ndarray:
    """Keypoints (..., K, 2 or 3) of an image of ``image_width`` after a horizontal flip.

    ``x -> image_width - 1 - x`` (pixel centres) and left/right joints swap places.
    """
    kpts = np.array(keypoints, dtype=np.float32, copy=True)
    if kpts.ndim < 2 or kpts.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must be (..., K, 2|3), got shape {kpts.shape}")
    kpts[..., 0] = (image_width - 1) - kpts[..., 0]
    return kpts[..., _permutation(kpts.shape[-2], flip_pairs), :]
