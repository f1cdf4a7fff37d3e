"""Keypoint accuracy for monitoring training: the project's one PCK with a pixel threshold."""

from __future__ import annotations

import numpy as np

from danet_tf.evaluation.pck import pck as _pck


def pck(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, threshold: float) -> float:
    """Fraction of labelled joints predicted within ``threshold`` pixels
    (:func:`danet_tf.evaluation.pck.pck` with every person's reference length = ``threshold``).

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
    gt = np.asarray(gt, np.float64)
    names = [f"joint_{i}" for i in range(gt.shape[1])]
    return _pck(pred, gt, mask, np.full(len(gt), float(threshold)), 1.0, names).mean
