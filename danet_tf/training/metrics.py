"""Keypoint accuracy for monitoring training (numpy; decoding goes through the shared codec)."""

from __future__ import annotations

import numpy as np


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, threshold: float) -> float:
    """Fraction of labelled joints predicted within ``threshold`` pixels.

    Args:
        pred, gt: (N, K, 2) coordinates in the same pixels (input-crop pixels here).
        visible: (N, K) mask (or weights > 0) of the joints that count.
        threshold: distance in pixels.

    Returns:
        PCK in [0, 1]; NaN when no joint is labelled.
    """
    mask = np.asarray(visible) > 0
    if not mask.any():
        return float("nan")
    dist = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)
    return float((dist[mask] <= threshold).mean())
