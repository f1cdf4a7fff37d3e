"""COCO keypoint AP with pycocotools, and the COCO results file."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from danet_tf.atomic import write_json

STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")


def load_coco_gt(ann: str | Path | COCO) -> COCO:
    """A pycocotools COCO object from a path (quietly) or pass one through."""
    if isinstance(ann, COCO):
        return ann
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(ann))


def make_result(image_id: int, keypoints: np.ndarray, score: float, category_id: int = 1) -> dict:
    """One COCO results entry; keypoints (K, 3) x, y, confidence in image pixels."""
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise ValueError(f"keypoints must be (K, 3), got shape {kp.shape}")
    if not np.all(np.isfinite(kp)) or not math.isfinite(float(score)):
        raise ValueError(
            f"image {image_id}: a result needs finite keypoints and score, got score "
            f"{float(score)!r} and {int((~np.isfinite(kp)).sum())} NaN/inf keypoint values"
        )
    return {
        "image_id": int(image_id),
        "category_id": int(category_id),
        "keypoints": [round(float(v), 3) for v in kp.reshape(-1)],
        "score": float(score),
    }


def write_coco_results(path: str | Path, results: Sequence[dict]) -> Path:
    """Write a COCO keypoint results json (a list of ``make_result`` entries), strictly
    valid (a NaN or inf anywhere is a ValueError and nothing is written) and atomically."""
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a results file")
    try:
        return write_json(path, list(results))
    except ValueError as exc:
        raise ValueError(f"{path}: results hold NaN/inf values, nothing written ({exc})") from None


def _check_results(results: list, source: str) -> None:
    for i, r in enumerate(results):
        if not isinstance(r, dict) or not {"image_id", "keypoints", "score"} <= set(r):
            raise ValueError(f"{source}: result {i} needs image_id, keypoints and score: {r!r}")
        score, kp = r["score"], r["keypoints"]
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or not math.isfinite(score)
        ):
            raise ValueError(f"{source}: result {i} (image {r['image_id']}) has score {score!r}")
        if not isinstance(kp, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in kp
        ):
            raise ValueError(
                f"{source}: result {i} (image {r['image_id']}) has keypoints that are not all "
                "finite numbers"
            )


def coco_keypoint_eval(
    ann: str | Path | COCO,
    results: Sequence[dict] | str | Path,
    sigmas: Sequence[float] | None = None,
    image_ids: Sequence[int] | None = None,
) -> tuple[dict[str, float], str]:
    """pycocotools keypoint evaluation.

    Args:
        ann: ground-truth annotation file or COCO object.
        results: results entries or a results json path.
        sigmas: per-joint OKS sigmas; default pycocotools' COCO-17 constants.
        image_ids: restrict to these images (default: all of the annotation file).

    Returns:
        ``{AP, AP50, AP75, APM, APL, AR, AR50, AR75, ARM, ARL}`` and pycocotools' table.
        No results at all scores 0 everywhere (pycocotools itself refuses an empty list).

    Raises:
        ValueError: a result without finite score and keypoints (with pycocotools, NaN
            scores reorder the ranking and halve the AP of correct results), or for an
            image id the annotation file does not know.
    """
    gt = load_coco_gt(ann)
    source = "results"
    if isinstance(results, str | Path):
        source = str(results)
        results = json.loads(Path(results).read_text())
        if not isinstance(results, list):
            raise ValueError(f"{source}: a results file is a json list")
    results = list(results)
    _check_results(results, source)
    if not results:
        return dict.fromkeys(STAT_NAMES, 0.0), "no results: every metric is 0\n"
    unknown = sorted({r["image_id"] for r in results} - set(gt.getImgIds()))
    if unknown:
        raise ValueError(f"results name image ids not in the annotation file: {unknown[:10]}")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
    with contextlib.redirect_stdout(table := io.StringIO()):
        ev.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}, table.getvalue()


def ground_truth_as_results(ann: str | Path | COCO) -> list[dict]:
    """Every non-crowd annotated person as a perfect result (confidence = visibility > 0)."""
    gt = load_coco_gt(ann)
    out = []
    for a in gt.loadAnns(gt.getAnnIds()):
        if a.get("iscrowd", 0) or a.get("num_keypoints", 0) == 0:
            continue
        kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
        kp[:, 2] = kp[:, 2] > 0
        out.append(make_result(a["image_id"], kp, 1.0, a["category_id"]))
    return out
