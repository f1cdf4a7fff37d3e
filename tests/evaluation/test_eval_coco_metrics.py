"""COCO OKS AP through pycocotools, results files, OKS-NMS and rescoring."""

import numpy as np
import pytest

from danet_tf.codec import COCO_SIGMAS
from danet_tf.evaluation import (
    STAT_NAMES,
    coco_keypoint_eval,
    ground_truth_as_results,
    oks_iou,
    oks_nms,
    rescore,
    write_coco_results,
)


@pytest.mark.parametrize("ann_file", ["val4.json", "train.json"])
def test_ground_truth_written_as_results_scores_ap_1(coco_sample, tmp_path, ann_file):
    ann = coco_sample / ann_file
    path = write_coco_results(tmp_path / "gt_results.json", ground_truth_as_results(ann))
    stats, table = coco_keypoint_eval(ann, path)
    assert set(stats) == set(STAT_NAMES)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    assert "Average Precision" in table


def test_perturbed_ground_truth_scores_lower(coco_sample):
    ann = coco_sample / "val4.json"
    results = ground_truth_as_results(ann)
    rng = np.random.default_rng(0)
    for r in results:
        kp = np.asarray(r["keypoints"]).reshape(-1, 3)
        kp[:, :2] += rng.normal(0, 8, (len(kp), 2))
        r["keypoints"] = kp.reshape(-1).tolist()
    stats, _ = coco_keypoint_eval(ann, results)
    assert 0.05 < stats["AP"] < 0.9


def test_empty_and_foreign_results(coco_sample):
    ann = coco_sample / "val4.json"
    stats, table = coco_keypoint_eval(ann, [])
    assert stats["AP"] == 0.0 and "no results" in table
    bad = ground_truth_as_results(ann)[:1]
    bad[0]["image_id"] = 123456789
    with pytest.raises(ValueError, match="123456789"):
        coco_keypoint_eval(ann, bad)


def _pose(rng, offset=0.0):
    return np.concatenate([rng.uniform(100, 200, (17, 2)) + offset, np.ones((17, 1))], axis=1)


def test_oks_iou_and_nms():
    rng = np.random.default_rng(0)
    a = _pose(rng)
    near = a.copy()
    near[:, :2] += 1.0
    far = _pose(rng, offset=300.0)
    oks = oks_iou(a, np.stack([a, near, far]), 1e4, np.full(3, 1e4), COCO_SIGMAS)
    assert oks[0] == pytest.approx(1.0) and 0.9 < oks[1] < 1.0 and oks[2] < 0.01
    keep = oks_nms(np.stack([near, a, far]), np.array([0.5, 0.9, 0.1]), np.full(3, 1e4))
    np.testing.assert_array_equal(keep, [1, 2])  # the weaker duplicate goes, best first
    keep = oks_nms(np.stack([near, a, far]), np.array([0.5, 0.9, 0.1]), np.full(3, 1e4), 1.0)
    assert len(keep) == 3
    with pytest.raises(ValueError, match="16 sigmas for 17"):
        oks_iou(a, a[None], 1.0, np.ones(1), COCO_SIGMAS[:16])


def test_rescore_uses_mean_of_confident_keypoints():
    kp = np.array([[0.9, 0.5, 0.1, 0.0], [0.1, 0.1, 0.1, 0.1]])
    np.testing.assert_allclose(rescore([0.8, 1.0], kp, 0.2), [0.8 * 0.7, 0.0])


def test_one_oks_for_nms_and_export_verification():
    from pycocotools.cocoeval import COCOeval

    from danet_tf.evaluation.nms import oks

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (17, 2))
    dt = gt + rng.normal(0, 3, (17, 2))
    area = 5000.0
    # pycocotools' own computeOks on the same pair.
    ev = COCOeval(iouType="keypoints")
    ev.params.kpt_oks_sigmas = np.asarray(COCO_SIGMAS)
    g = {"keypoints": np.concatenate([gt, np.full((17, 1), 2)], 1).ravel().tolist(), "area": area,
         "bbox": [0, 0, 100, 100], "num_keypoints": 17}  # fmt: skip
    d = {"keypoints": np.concatenate([dt, np.ones((17, 1))], 1).ravel().tolist(), "score": 1.0}
    ev._gts, ev._dts = {(1, 1): [g]}, {(1, 1): [d]}
    ev.params.imgIds, ev.params.catIds = [1], [1]
    expected = ev.computeOks(1, 1)[0, 0]
    assert oks(dt, gt, area, COCO_SIGMAS) == pytest.approx(expected, rel=1e-9)
    visible = np.zeros(17)
    visible[:5] = 1
    assert oks(dt, gt, area, COCO_SIGMAS, visible) == pytest.approx(
        oks(dt[:5], gt[:5], area, COCO_SIGMAS[:5]), rel=1e-12
    )
