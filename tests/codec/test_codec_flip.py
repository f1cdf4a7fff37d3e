"""Flip helpers agree with the codec's pixel-centre convention."""

import numpy as np
import pytest

from danet_tf.codec import (
    COCO_FLIP_PAIRS,
    DECODE_MODES,
    HeatmapCodec,
    flip_heatmaps,
    flip_keypoints,
    fuse_flip,
)


def _coco_like(rng):
    xy = rng.uniform(20, 170, (17, 2))
    return np.concatenate([xy, np.full((17, 1), 2.0)], axis=1)


def test_flip_keypoints_mirrors_and_swaps():
    kpts = np.zeros((17, 3), np.float32)
    kpts[5] = [10, 40, 2]  # left shoulder
    flipped = flip_keypoints(kpts, COCO_FLIP_PAIRS, image_width=192)
    np.testing.assert_allclose(flipped[6], [181, 40, 2])
    np.testing.assert_allclose(flip_keypoints(flipped, COCO_FLIP_PAIRS, 192), kpts)


def test_heatmaps_of_a_flipped_crop_flip_back_exactly():
    codec = HeatmapCodec()
    kpts = _coco_like(np.random.default_rng(1))
    direct, _ = codec.encode(kpts)
    mirrored, _ = codec.encode(flip_keypoints(kpts, COCO_FLIP_PAIRS, 192))
    np.testing.assert_allclose(flip_heatmaps(mirrored, COCO_FLIP_PAIRS), direct, atol=1e-6)
    # The HRNet one-cell shift is wrong under this convention.
    shifted = flip_heatmaps(mirrored, COCO_FLIP_PAIRS, shift=True)
    assert np.abs(shifted - direct).max() > 0.1


@pytest.mark.parametrize("mode", DECODE_MODES)
def test_flip_test_of_a_symmetric_prediction_changes_nothing(mode):
    codec = HeatmapCodec()
    rng = np.random.default_rng(2)
    heatmaps = np.stack([codec.encode(_coco_like(rng))[0] for _ in range(3)])
    # A perfectly flip-equivariant model predicts exactly the mirror on the mirrored crop.
    prediction_on_flipped = flip_heatmaps(heatmaps, COCO_FLIP_PAIRS)
    fused = fuse_flip(heatmaps, prediction_on_flipped, COCO_FLIP_PAIRS)
    np.testing.assert_allclose(fused, heatmaps, atol=1e-7)
    c0, s0 = codec.decode(heatmaps, mode)
    c1, s1 = codec.decode(fused, mode)
    np.testing.assert_allclose(c1, c0, atol=1e-4)
    np.testing.assert_allclose(s1, s0, atol=1e-6)


def test_fuse_flip_averages_and_checks_shapes():
    a = np.zeros((1, 4, 4, 17), np.float32)
    b = np.ones((1, 4, 4, 17), np.float32)
    np.testing.assert_allclose(fuse_flip(a, b, COCO_FLIP_PAIRS), 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        fuse_flip(a, np.ones((1, 4, 4, 16)), [])
    with pytest.raises(ValueError, match="out of range"):
        flip_heatmaps(a[..., :4], COCO_FLIP_PAIRS)
