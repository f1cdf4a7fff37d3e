"""PCK metrics: MPII PCKh@0.5 (head-normalised) and LSP PCK@0.2 (torso-normalised).

MPII's official PCKh threshold is ``0.5 * SC_BIAS * |head box diagonal|`` with SC_BIAS = 0.6.
The HRNet/mmpose MPII json has no head box, so the head size is approximated from the
ground-truth head_top and upper_neck joints: ``head_size = 0.6 * |head_top - upper_neck|``.
A head box's diagonal is longer than the head-neck segment, so this threshold is *stricter*
than the official one: PCKh from this module is a lower bound on the official number and is
comparable only with numbers computed the same way. ``head_factor`` changes the 0.6.

LSP's PCK@0.2 uses the torso size ``|left_shoulder - right_hip|`` (the DeepPose/PDJ
definition); a person missing either joint cannot be scored and is counted as excluded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SC_BIAS = 0.6
MPII_HEAD_TOP, MPII_UPPER_NECK = 9, 8
# Standard MPII table: pelvis and thorax are left out of the mean.
MPII_EXCLUDED_FROM_MEAN = (6, 7)


def _check_positive(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


@dataclass(frozen=True)
class PCKResult:
    """Per-joint and mean PCK, each in [0, 1]; ``counts`` = scored joints per joint."""

    name: str
    names: tuple[str, ...]
    per_joint: np.ndarray
    counts: np.ndarray
    mean: float
    excluded_persons: int = 0

    def as_dict(self) -> dict[str, float]:
        out = {
            f"{self.name}/{n}": float(v) for n, v in zip(self.names, self.per_joint, strict=True)
        }
        out[f"{self.name}/mean"] = self.mean
        return out

    def table(self) -> str:
        lines = [f"{self.name} per joint (n = joints scored)"]
        for n, v, c in zip(self.names, self.per_joint, self.counts, strict=True):
            lines.append(f"  {n:<16s} {100 * v:6.2f}  (n={int(c)})")
        lines.append(f"  {'mean':<16s} {100 * self.mean:6.2f}")
        if self.excluded_persons:
            lines.append(f"  ({self.excluded_persons} persons without a reference length excluded)")
        return "\n".join(lines) + "\n"


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    visible: np.ndarray,
    ref_lengths: np.ndarray,
    threshold: float,
    names: Sequence[str],
    name: str = "PCK",
    excluded_from_mean: Sequence[int] = (),
) -> PCKResult:
    """Fraction of visible joints within ``threshold * ref_length`` of the ground truth.

    pred, gt (N, K, 2); visible (N, K) bool; ref_lengths (N,), persons with a non-positive
    or non-finite length are excluded. The mean is over all scored joints, leaving out
    ``excluded_from_mean`` joint indices. A NaN/inf prediction counts as a miss; a visible
    ground-truth joint must be finite; ``threshold`` must be finite and > 0.
    """
    threshold = _check_positive("PCK threshold", threshold)
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (N, K, 2)")
    if len(names) != gt.shape[1]:
        raise ValueError(f"got {len(names)} joint names for {gt.shape[1]} joints")
    ref = np.asarray(ref_lengths, np.float64)
    usable = np.isfinite(ref) & (ref > 0)
    vis = np.asarray(visible, bool) & usable[:, None]
    if not np.all(np.isfinite(gt[vis])):
        raise ValueError("ground truth has NaN/inf coordinates on visible joints")
    dist = np.linalg.norm(pred - gt, axis=-1) / np.where(usable, ref, 1.0)[:, None]
    hit = (dist <= threshold) & vis
    counts = vis.sum(axis=0)
    per_joint = np.where(counts > 0, hit.sum(axis=0) / np.maximum(counts, 1), 0.0)
    in_mean = np.ones(gt.shape[1], bool)
    in_mean[list(excluded_from_mean)] = False
    total = counts[in_mean].sum()
    mean = float(hit[:, in_mean].sum() / total) if total else 0.0
    return PCKResult(name, tuple(names), per_joint, counts, mean, int((~usable).sum()))


def mpii_head_sizes(gt: np.ndarray, head_factor: float = SC_BIAS) -> np.ndarray:
    """Head sizes (N,) from MPII joints (N, 16, 2|3): ``head_factor * |head_top - upper_neck|``."""
    head_factor = _check_positive("head_factor", head_factor)
    gt = np.asarray(gt, np.float64)
    if gt.ndim != 3 or gt.shape[1] != 16:
        raise ValueError(f"MPII ground truth must be (N, 16, 2|3), got shape {gt.shape}")
    seg = np.linalg.norm(gt[:, MPII_HEAD_TOP, :2] - gt[:, MPII_UPPER_NECK, :2], axis=-1)
    if gt.shape[-1] == 3:
        labelled = (gt[:, MPII_HEAD_TOP, 2] > 0) & (gt[:, MPII_UPPER_NECK, 2] > 0)
        seg = np.where(labelled, seg, np.nan)
    return head_factor * seg


def torso_sizes(gt: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Torso sizes (N,) = |left_shoulder - right_hip| from ground truth (N, K, 3)."""
    try:
        ls, rh = list(names).index("left_shoulder"), list(names).index("right_hip")
    except ValueError as exc:
        raise ValueError(
            f"torso size needs left_shoulder and right_hip; names are {list(names)}"
        ) from exc
    gt = np.asarray(gt, np.float64)
    size = np.linalg.norm(gt[:, ls, :2] - gt[:, rh, :2], axis=-1)
    return np.where((gt[:, ls, 2] > 0) & (gt[:, rh, 2] > 0), size, np.nan)


def mpii_pckh(
    pred: np.ndarray, gt: np.ndarray, names: Sequence[str], threshold: float = 0.5,
    head_factor: float = SC_BIAS,
) -> PCKResult:  # fmt: skip
    """MPII PCKh@threshold; pred (N, 16, 2), gt (N, 16, 3)."""
    gt = np.asarray(gt, np.float64)
    return pck(
        pred, gt[..., :2], gt[..., 2] > 0, mpii_head_sizes(gt, head_factor), threshold, names,
        name=f"PCKh@{threshold:g}", excluded_from_mean=MPII_EXCLUDED_FROM_MEAN,
    )  # fmt: skip


def lsp_pck(
    pred: np.ndarray, gt: np.ndarray, names: Sequence[str], threshold: float = 0.2
) -> PCKResult:
    """LSP PCK@threshold (torso-normalised); pred (N, K, 2), gt (N, K, 3)."""
    gt = np.asarray(gt, np.float64)
    return pck(
        pred, gt[..., :2], gt[..., 2] > 0, torso_sizes(gt, names), threshold, names,
        name=f"PCK@{threshold:g}",
    )  # fmt: skip
