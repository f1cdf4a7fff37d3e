"""Predictions -> the results file's entries and the metrics: COCO OKS AP (this project's
rescoring and OKS-NMS, or the authors' scoring), MPII PCKh, LSP PCK."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from danet_edge.choices import DEFAULT_NMS_THRESHOLD, DEFAULT_RESCORE_THRESHOLD
from danet_edge.protocol import Authors, Ours
from danet_tf.codec import authors
from danet_tf.evaluation.coco_eval import coco_keypoint_eval, make_result
from danet_tf.evaluation.inference import Predictions
from danet_tf.evaluation.nms import oks_nms, rescore
from danet_tf.evaluation.pck import lsp_pck, mpii_pckh


def predictions_to_coco_results(
    pred: Predictions,
    sigmas: Sequence[float],
    nms_threshold: float | None = DEFAULT_NMS_THRESHOLD,
    rescore_threshold: float = DEFAULT_RESCORE_THRESHOLD,
) -> list[dict]:
    """COCO results from predictions: rescoring, then OKS-NMS per image (None: no NMS)."""
    scores = rescore([p.box_score for p in pred.persons], pred.keypoints[..., 2], rescore_threshold)
    by_image: dict[int, list[int]] = {}
    for i, p in enumerate(pred.persons):
        by_image.setdefault(p.image_id, []).append(i)
    results = []
    for image_id, members in by_image.items():
        idx = np.asarray(members)
        if nms_threshold is not None:
            areas = np.asarray([pred.persons[i].area for i in idx])
            keep = oks_nms(
                pred.keypoints[idx], scores[idx], areas, nms_threshold, np.asarray(sigmas)
            )
            idx = idx[keep]
        results.extend(make_result(image_id, pred.keypoints[i], scores[i]) for i in idx)
    return results


def authors_coco_results(pred: Predictions) -> list[dict]:
    """COCO results as the authors' test code writes them: one per person, score = mean
    keypoint score x box score, every keypoint's confidence 1; no rescoring threshold and
    no OKS-NMS. ``pred`` must come from ``predict_persons(..., protocol="authors")``."""
    scores = authors.person_scores(pred.keypoints[..., 2], [p.box_score for p in pred.persons])
    results = []
    for person, kp, score in zip(pred.persons, pred.keypoints, scores, strict=True):
        kp = kp.copy()
        kp[:, 2] = 1.0
        results.append(make_result(person.image_id, kp, float(score)))
    return results


def score_predictions(pred: Predictions, dataset, metric: str, ann_file, protocol: Ours,
                      nms_threshold: float | None,
                      rescore_threshold: float) -> tuple[dict[str, float], str, list[dict]]:
    """(metrics, printable table, results entries) of ``pred`` against ``dataset`` (the
    annotations of ``ann_file``). For ``coco`` the person score and NMS are the protocol's."""
    info = dataset.keypoint_info
    if metric == "coco":
        if protocol.name == Authors.name:
            results = authors_coco_results(pred)
        else:
            results = predictions_to_coco_results(pred, info.sigmas, nms_threshold,
                                                  rescore_threshold)
        metrics, table = coco_keypoint_eval(ann_file, results, sigmas=info.sigmas)
        return metrics, table, results
    gt_idx = [p.gt_index for p in pred.persons]
    gt_kpts = (np.stack([dataset.samples[i].keypoints for i in gt_idx]) if gt_idx
               else np.zeros((0, pred.keypoints.shape[1], 3)))
    scorer = mpii_pckh if metric == "pckh" else lsp_pck
    res = scorer(pred.keypoints[..., :2], gt_kpts, info.names)
    results = [
        {"image_id": p.image_id, "annotation_id": int(dataset.samples[p.gt_index].annotation_id),
         "keypoints": [round(float(v), 3) for v in kp.reshape(-1)]}
        for p, kp in zip(pred.persons, pred.keypoints, strict=True)
    ]  # fmt: skip
    return res.as_dict(), res.table(), results
