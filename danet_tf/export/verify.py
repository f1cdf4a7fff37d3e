"""Check an exported artifact against the Keras model on real person crops.

Two numbers per artifact, both printed and both bounded per export mode (``BOUNDS``):

- ``max_heatmap_diff``: the largest absolute heatmap difference (trained heatmaps peak
  near 1, so this is about a fraction of the peak); the int8 modes also bound
  ``q999_heatmap_diff``, the 99.9th percentile of the same differences (see ``Bounds``);
- ``mean_keypoint_px``: the mean distance, in input-crop pixels, between the keypoints
  both models decode, over the joints the Keras model is confident about (heatmap peak >=
  ``CONFIDENT``; where the argmax of a flat heatmap is arbitrary, a distance means nothing).
  A weak or untrained model may have none: then only the heatmap difference is checked,
  and the report says so. The decode is the one the artifact's metadata names and the
  runtimes use (``blur_shift``, the paper's), so the check measures what users get.

Also reported, not bounded: the largest keypoint distance and the mean OKS between the two
decodings (crop space; areas from the annotated joints, see :func:`person_areas`).
The bounds (docs/deployment.md, "Verification bounds") were set from measurements on
danet_tiny trained on LSPET (CHANGELOG.md, 2026-11-24):
floats must match to rounding; quantized modes must stay well inside one heatmap cell
(4 px) on average. A random-weight model has flat heatmaps whose argmax is arbitrary, so its
quantized exports need looser bounds (the tests pass them explicitly).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from danet_tf.codec import COCO_SIGMAS, HeatmapCodec
from danet_tf.data.calibration import CropSet
from danet_tf.evaluation.nms import oks


class ExportVerificationError(RuntimeError):
    """An exported artifact disagrees with its Keras model beyond the mode's bounds.

    ``report`` holds the measurement when the artifact ran (None when it could not run).
    """

    def __init__(self, message: str, report: Report | None = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Bounds:
    """Largest accepted disagreement with the Keras model.

    ``q999_heatmap_diff`` (None: not bounded) bounds the 99.9th percentile of the absolute
    heatmap differences. The int8 modes bound it tightly and the maximum loosely: the maximum
    over 100 crops x 17 maps x 768 cells is an extreme value that one crop decides (an int8
    file of the preset's fourth training stage, agreeing with float32 better than the int8
    file then shipped, was 0.28 at one peak of one crop and 0.074 at the 99.9th percentile),
    while a broken calibration moves the bulk (calibrated on darkened crops: 0.52 at the
    99.9th percentile, 1.09 at the maximum). Measured in CHANGELOG.md, 2026-12-07.
    """

    max_heatmap_diff: float
    mean_keypoint_px: float
    q999_heatmap_diff: float | None = None


# Every int8 mode (full integer, with float fallbacks, or fine-tuned by QAT) is held to the
# same bounds.
INT8_BOUNDS = Bounds(0.5, 2.0, q999_heatmap_diff=0.1)

BOUNDS: dict[str, Bounds] = {
    "keras": Bounds(1e-5, 0.01),
    "savedmodel": Bounds(1e-4, 0.05),
    "onnx": Bounds(1e-3, 0.1),
    "tflite": Bounds(1e-3, 0.1),
    "tflite-fp16": Bounds(0.02, 0.5),
    "tflite-dynamic": Bounds(0.15, 2.0),
    "tflite-int8": INT8_BOUNDS,
    "tflite-int8-float-dw": INT8_BOUNDS,
    "tflite-int8-float-ew": INT8_BOUNDS,
    "tflite-qat": INT8_BOUNDS,
}

# For speed measurements of random-weight models only: still fails on unrunnable artifacts,
# wrong shapes and NaN, never on disagreement (flat random heatmaps have arbitrary argmaxes).
TIMING_ONLY = Bounds(float("inf"), float("inf"))
# A joint counts for keypoint agreement when the Keras model's heatmap peak reaches this
# (trained heatmaps peak near 1; random-weight ones near 0.03).
CONFIDENT = 0.3


@dataclass(frozen=True)
class Report:
    """What :func:`compare` measured."""

    artifact: str
    mode: str
    crops: int
    max_heatmap_diff: float
    mean_keypoint_px: float | None  # None: no confident joint to compare
    max_keypoint_px: float | None
    mean_oks: float | None
    bounds: Bounds
    confident_joints: int = -1  # -1: not counted (all annotated joints used)
    q999_heatmap_diff: float | None = None  # the 99.9th percentile of |difference|

    @property
    def ok(self) -> bool:
        q999 = self.bounds.q999_heatmap_diff
        return (
            self.max_heatmap_diff <= self.bounds.max_heatmap_diff
            and (q999 is None or self.q999_heatmap_diff is None or self.q999_heatmap_diff <= q999)
            and (self.mean_keypoint_px is None or self.mean_keypoint_px <= self.bounds.mean_keypoint_px)
        )

    def as_dict(self) -> dict:
        """JSON values; an unbounded check (``TIMING_ONLY``) is written as null."""
        out = asdict(self) | {"ok": self.ok}
        out["bounds"] = {
            k: (v if v is not None and math.isfinite(v) else None) for k, v in out["bounds"].items()
        }
        return out

    def __str__(self) -> str:
        b = self.bounds
        text = (
            f"{self.artifact} [{self.mode}] on {self.crops} real crops: max heatmap diff "
            f"{self.max_heatmap_diff:.3g} (bound {b.max_heatmap_diff:g})"
        )
        if b.q999_heatmap_diff is not None and self.q999_heatmap_diff is not None:
            text += (f", 99.9th percentile {self.q999_heatmap_diff:.3g} "
                     f"(bound {b.q999_heatmap_diff:g})")
        if self.mean_keypoint_px is None:
            return text + (
                f"; no joint of the Keras model reaches a heatmap peak of {CONFIDENT} (a weak or "
                "untrained model), so keypoint agreement is not measured: heatmaps only"
            )
        return text + (
            f", keypoints mean {self.mean_keypoint_px:.3f} px (bound {b.mean_keypoint_px:g}) / max "
            f"{self.max_keypoint_px:.2f} px, mean OKS {self.mean_oks:.4f} over "
            f"{self.confident_joints} confident joints"
        )


def person_areas(crops: CropSet, padding: float) -> np.ndarray:
    """Approximate areas (N,) in crop pixels: 0.53 x the labelled joints' extent grown by 15 %.

    That is how the LSPET annotations define box and area; persons with fewer than two
    labelled joints get the area of the crop region without its ``padding`` (the codec's).
    """
    h, w = crops.images.shape[1:3]
    areas = np.full(len(crops), 0.53 * h * w / padding**2)
    for i, kpts in enumerate(crops.keypoints):
        pts = kpts[kpts[:, 2] > 0, :2]
        if len(pts) >= 2:
            extent = (pts.max(0) - pts.min(0)) * 1.15
            areas[i] = max(0.53 * extent[0] * extent[1], 1.0)
    return areas


def keypoint_agreement(
    reference: np.ndarray,
    candidate: np.ndarray,
    crops: CropSet,
    codec: HeatmapCodec,
    decode: str | None = None,
    joints: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint pixel distances and per-person OKS of two heatmap sets, over ``joints``
    (N, K) bool (default: the annotated joints)."""
    ref_xy, _ = codec.decode(reference, decode)
    cand_xy, _ = codec.decode(candidate, decode)
    visible = crops.keypoints[..., 2] > 0 if joints is None else np.asarray(joints, bool)
    if joints is None and not visible.any():
        visible = np.ones(visible.shape, bool)
    dist = np.linalg.norm(ref_xy - cand_xy, axis=-1)
    k = reference.shape[-1]
    sigmas = COCO_SIGMAS if k == len(COCO_SIGMAS) else np.full(k, float(np.mean(COCO_SIGMAS)))
    return dist[visible], oks(ref_xy, cand_xy, person_areas(crops, codec.padding), sigmas, visible)


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    crops: CropSet,
    codec: HeatmapCodec,
    mode: str,
    artifact: str,
    bounds: Bounds | None = None,
    decode: str | None = None,
) -> Report:
    """Measure ``candidate`` heatmaps against ``reference`` ones (both (N, h, w, K)),
    decoding both with ``decode``."""
    if mode not in BOUNDS and bounds is None:
        raise ValueError(f"unknown export mode {mode!r}; known: {', '.join(BOUNDS)}")
    reference = np.asarray(reference, np.float32)
    candidate = np.asarray(candidate, np.float32)
    if reference.shape != candidate.shape:
        raise ExportVerificationError(
            f"{artifact}: heatmaps have shape {candidate.shape}, the Keras model's {reference.shape}"
        )
    if not np.all(np.isfinite(candidate)):
        raise ExportVerificationError(f"{artifact}: non-finite heatmaps (NaN or inf)")
    diff = np.abs(reference - candidate)
    confident = reference.max(axis=(1, 2)) >= CONFIDENT  # (N, K)
    if confident.any():
        dist, per_person = keypoint_agreement(reference, candidate, crops, codec, decode, confident)
        mean_px, max_px = float(dist.mean()), float(dist.max())
        mean_oks = float(per_person[confident.any(axis=1)].mean())
    else:
        mean_px = max_px = mean_oks = None
    return Report(
        artifact=artifact,
        mode=mode,
        crops=len(reference),
        max_heatmap_diff=float(diff.max()),
        mean_keypoint_px=mean_px,
        max_keypoint_px=max_px,
        mean_oks=mean_oks,
        bounds=bounds or BOUNDS[mode],
        confident_joints=int(confident.sum()),
        q999_heatmap_diff=float(np.quantile(diff, 0.999)),
    )


def verify(
    reference: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    crops: CropSet,
    codec: HeatmapCodec,
    mode: str,
    artifact: str,
    bounds: Bounds | None = None,
    decode: str | None = None,
) -> Report:
    """Run ``predict`` on the crops, print the report, raise if a bound is exceeded."""
    try:
        candidate = predict(crops.images)
    except Exception as err:
        raise ExportVerificationError(f"{artifact}: cannot run the artifact: {err}") from err
    report = compare(reference, candidate, crops, codec, mode, artifact, bounds, decode)
    print(f"verify: {report}", flush=True)
    if not report.ok:
        raise ExportVerificationError(f"{report} -- exceeds the bounds of mode {mode!r}", report)
    return report
