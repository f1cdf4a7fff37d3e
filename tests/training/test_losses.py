from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from danet_tf.training.losses import joint_mse, ohkm, ohkm_topk, pose_loss


def _maps(values):
    """(N, K) per-joint constants -> (N, 2, 2, K) heatmaps."""
    v = np.asarray(values, np.float32)
    return np.broadcast_to(v[:, None, None, :], (v.shape[0], 2, 2, v.shape[1])).copy()


def test_joint_mse_is_masked():
    target = np.zeros((1, 2, 2, 3), np.float32)
    pred = _maps([[1.0, 2.0, 3.0]])
    out = joint_mse(target, pred, np.array([[1.0, 0.0, 1.0]], np.float32)).numpy()
    np.testing.assert_allclose(out, [[1.0, 0.0, 9.0]])


@pytest.mark.parametrize(("k", "expected"), [(17, 8), (14, 7), (16, 8), (1, 1), (3, 1)])
def test_ohkm_topk(k, expected):
    assert ohkm_topk(k, 0.5) == expected


def test_ohkm_picks_the_hardest_half():
    per_joint = tf.constant([[1.0, 5.0, 2.0, 4.0], [0.0, 0.0, 3.0, 1.0]])
    np.testing.assert_allclose(ohkm(per_joint, 2).numpy(), [4.5, 2.0])


def test_pose_loss_by_hand():
    levels = ("coarse", "fine")
    weights = np.array([[1, 1, 1, 0]], np.float32)
    targets = {"coarse": np.zeros((1, 2, 2, 4), np.float32),
               "fine": np.zeros((1, 2, 2, 4), np.float32), "weights": weights}
    outputs = {"coarse": _maps([[1, 1, 1, 1]]), "fine": _maps([[1, 2, 3, 10]])}
    terms = {k: v.numpy() for k, v in pose_loss(targets, outputs, levels, (0.5, 1.0)).items()}
    # coarse: joints (1, 1, 1, masked) -> mean 3/4; fine: (1, 4, 9, masked 0) -> 14/4
    np.testing.assert_allclose(terms["loss_coarse"], [0.75])
    np.testing.assert_allclose(terms["loss_fine"], [3.5])
    np.testing.assert_allclose(terms["loss_ohkm"], [6.5])  # top-2 of (1, 4, 9, 0)
    np.testing.assert_allclose(terms["loss"], [0.5 * 0.75 + 3.5 + 6.5])


def test_pose_loss_is_float32_for_half_inputs():
    levels = ("fine",)
    targets = {"fine": np.zeros((2, 4, 4, 3), np.float32), "weights": np.ones((2, 3), np.float32)}
    outputs = {"fine": tf.ones((2, 4, 4, 3), tf.float16) * 300.0}
    terms = pose_loss(targets, outputs, levels, (1.0,))
    assert terms["loss"].dtype == tf.float32
    # 300^2 = 90000 overflows nothing in float32 but would in float16 (max 65504).
    np.testing.assert_allclose(terms["loss_fine"].numpy(), [90000.0, 90000.0])


def test_pose_loss_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="level_weights"):
        pose_loss({"weights": np.ones((1, 1))}, {}, ("a", "b"), (1.0,))


def test_target_scale_multiplies_the_targets():
    targets = {"fine": np.full((1, 2, 2, 2), 0.5, np.float32), "weights": np.ones((1, 2), np.float32)}
    outputs = {"fine": np.full((1, 2, 2, 2), 5.0, np.float32)}
    terms = pose_loss(targets, outputs, ("fine",), (1.0,), ohkm_weight=0.0, target_scale=10.0)
    np.testing.assert_allclose(terms["loss"].numpy(), [0.0])
