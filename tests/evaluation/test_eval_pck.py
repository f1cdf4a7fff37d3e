"""MPII PCKh@0.5 and LSP PCK@0.2 on the real annotations."""

import json

import numpy as np
import pytest

from danet_tf.codec import LSP_KEYPOINTS, MPII_KEYPOINTS
from danet_tf.evaluation import lsp_pck, mpii_head_sizes, mpii_pckh, pck


def _mpii_gt(mpii_sample) -> np.ndarray:
    recs = json.loads((mpii_sample / "test_mpii.json").read_text())
    return np.stack(
        [
            np.concatenate([np.asarray(r["joints"]), np.asarray(r["joints_vis"])[:, None]], 1)
            for r in recs
        ]
    )


def test_mpii_pckh_of_ground_truth_is_1_and_drops_with_perturbation(mpii_sample):
    gt = _mpii_gt(mpii_sample)
    res = mpii_pckh(gt[..., :2], gt, MPII_KEYPOINTS)
    assert res.mean == 1.0 and np.all(res.per_joint[res.counts > 0] == 1.0)
    assert res.name == "PCKh@0.5"
    head = mpii_head_sizes(gt)
    pred = gt[..., :2].copy()
    pred[:, 10, 0] += 0.6 * head  # right wrist off by 0.6 head sizes: a miss at 0.5
    pred[:, 0, 0] += 0.4 * head  # right ankle off by 0.4: still a hit
    res = mpii_pckh(pred, gt, MPII_KEYPOINTS)
    assert res.per_joint[10] == 0.0 and res.per_joint[0] == 1.0
    scored = res.counts.sum() - res.counts[[6, 7]].sum()  # pelvis, thorax not in the mean
    assert res.mean == pytest.approx(1 - res.counts[10] / scored)
    assert "right_wrist" in res.table() and "PCKh@0.5/mean" in res.as_dict()


def test_head_size_is_0_6_head_neck_segment(mpii_sample):
    gt = _mpii_gt(mpii_sample)
    np.testing.assert_allclose(
        mpii_head_sizes(gt), 0.6 * np.linalg.norm(gt[:, 9, :2] - gt[:, 8, :2], axis=-1)
    )
    with pytest.raises(ValueError, match=r"\(5, 17, 3\)"):
        mpii_head_sizes(np.zeros((5, 17, 3)))


def test_lsp_pck_of_ground_truth_and_perturbed(lspet):
    data = json.loads((lspet / "train_lsp14.json").read_text())
    gt = np.stack(
        [np.asarray(a["keypoints"], np.float64).reshape(14, 3) for a in data["annotations"][:500]]
    )
    res = lsp_pck(gt[..., :2], gt, LSP_KEYPOINTS)
    assert res.mean == 1.0
    rng = np.random.default_rng(0)
    noisy = gt[..., :2] + rng.normal(0, 12, gt[..., :2].shape)
    worse = lsp_pck(noisy, gt, LSP_KEYPOINTS)
    assert 0.1 < worse.mean < 0.95
    assert worse.excluded_persons == res.excluded_persons


def test_pck_excludes_persons_without_reference_and_checks_shapes():
    gt = np.zeros((2, 3, 2))
    res = pck(gt, gt, np.ones((2, 3), bool), np.array([1.0, np.nan]), 0.5, ["a", "b", "c"])
    assert res.excluded_persons == 1 and list(res.counts) == [1, 1, 1]
    with pytest.raises(ValueError, match="must both be"):
        pck(gt[:1], gt, np.ones((2, 3), bool), np.ones(2), 0.5, ["a", "b", "c"])


def test_training_pck_is_the_same_pck():
    from danet_tf.training.metrics import pck as training_pck

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (5, 17, 2))
    pred = gt + rng.normal(0, 3, (5, 17, 2))
    visible = rng.uniform(size=(5, 17)) > 0.3
    dist = np.linalg.norm(pred - gt, axis=-1)
    assert training_pck(pred, gt, visible, 4.0) == pytest.approx((dist[visible] <= 4).mean())
    assert np.isnan(training_pck(pred, gt, np.zeros((5, 17)), 4.0))
