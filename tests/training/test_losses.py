from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from danet_tf.training.losses import default_level_weights, joint_mse, ohkm, ohkm_topk, pose_loss


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


def _authors_numpy(pred, label, vis, inside, k_top):
    """The authors' calc_loss (MegEngine danet.py) in numpy, on (L, N, K, H, W) arrays.

    Coarse levels: square_loss (the mean over N, K, H, W) of maps masked by v > 1.1, / 4;
    finest: per joint mean over H, W masked by v > 0.1, the k_top largest of each sample
    averaged, then averaged over the batch.
    """
    valid = np.where(inside, vis, 0.0)  # their crop zeroes v of joints that leave it
    loss = 0.0
    for lvl in range(pred.shape[0] - 1):
        m = (valid > 1.1)[:, :, None, None]
        loss += np.mean((pred[lvl] * m - label[lvl] * m) ** 2) / 4
    tmp = ((pred[-1] - label[-1]) ** 2).mean((2, 3)) * (valid > 0.1)
    loss += np.mean([np.sort(row)[::-1][:k_top].mean() for row in tmp])
    return loss


def test_authors_loss_matches_their_formula():
    rng = np.random.default_rng(0)
    n, k, h, w = 3, 17, 4, 3
    levels = ("s32", "s16", "s8", "s4")
    label = rng.uniform(0, 1, (4, n, k, h, w)).astype(np.float32)
    pred = rng.normal(0, 150, (4, n, k, h, w)).astype(np.float32)
    vis = rng.integers(0, 3, (n, k)).astype(np.float32)
    inside = rng.uniform(size=(n, k)) > 0.2
    weights = ((vis > 0) & inside).astype(np.float32)
    to_nhwk = lambda a: a.transpose(0, 2, 3, 1)  # noqa: E731
    targets = {lvl: to_nhwk(label[i]) for i, lvl in enumerate(levels)}
    targets |= {"weights": weights, "visible": weights * (vis == 2)}
    outputs = {lvl: to_nhwk(pred[i]) for i, lvl in enumerate(levels)}
    terms = pose_loss(targets, outputs, levels, default_level_weights("authors", 4),
                      ohkm_weight=1.0, ohkm_ratio=0.5, target_scale=255.0,
                      coarse_visible_only=True)  # fmt: skip
    expected = _authors_numpy(pred, label * 255.0, vis, inside, k_top=8)
    # The trainer averages the per-sample losses over the global batch.
    np.testing.assert_allclose(terms["loss"].numpy().mean(), expected, rtol=1e-5)
    # Our own preset differs: every labelled joint at every level, plus OHKM.
    ours = pose_loss(targets, outputs, levels, default_level_weights("danet_tf", 4),
                     target_scale=255.0)  # fmt: skip
    assert abs(float(ours["loss"].numpy().mean()) - expected) > 0.1 * expected


def test_visible_mask_is_required_for_the_authors_loss():
    targets = {"a": np.zeros((1, 2, 2, 1), np.float32), "b": np.zeros((1, 2, 2, 1), np.float32),
               "weights": np.ones((1, 1), np.float32)}  # fmt: skip
    with pytest.raises(ValueError, match="visible"):
        pose_loss(targets, dict(targets), ("a", "b"), (0.25, 0.0), coarse_visible_only=True)


def test_default_level_weights():
    assert default_level_weights("authors", 4) == (0.25, 0.25, 0.25, 0.0)
    assert default_level_weights("danet_tf", 4) == (1.0, 1.0, 1.0, 1.0)
