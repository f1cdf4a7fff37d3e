"""Crop geometry, flip and half-body on real annotations (numpy only, no TensorFlow)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from danet_tf.codec import HeatmapCodec, affine_points, get_affine_transform
from danet_tf.data import AugmentConfig, TopDownTransform, load_coco, load_lsp, read_image

INPUT = (128, 96)
SIGMAS = {"heatmaps_s8": 1.7, "heatmaps": 1.4}
CODEC = HeatmapCodec.for_input(INPUT, level_sigmas=SIGMAS, sigma=SIGMAS["heatmaps"])
PLAIN = HeatmapCodec.for_input(INPUT)


def _blank_with_dot(sample, shape, joint: int) -> np.ndarray:
    """A black image of the real image's size with one white dot on ``joint``."""
    img = np.zeros(shape, np.uint8)
    x, y = sample.keypoints[joint, :2]
    cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), 3 * 16, (255, 255, 255), -1,
               cv2.LINE_AA, 4)  # fmt: skip
    return img


def _interior(xy: np.ndarray, margin: float = 8.0) -> np.ndarray:
    """Points at least two heatmap cells from the crop edge, where decoding is exact."""
    x, y = xy[..., 0], xy[..., 1]
    return (
        (x >= margin) & (x <= INPUT[1] - 1 - margin) & (y >= margin) & (y <= INPUT[0] - 1 - margin)
    )


def _brightest(crop: np.ndarray) -> np.ndarray:
    g = cv2.GaussianBlur(crop[..., 0].astype(np.float32), (0, 0), 2.0)
    y, x = np.unravel_index(np.argmax(g), g.shape)
    return np.array([x, y], np.float32)


def test_round_trip_on_coco(coco_sample: Path):
    ds = load_coco(coco_sample / "val4.json")
    t = TopDownTransform(ds.keypoint_info, CODEC, encode=True)
    codec = HeatmapCodec(INPUT, t.heatmap_size, SIGMAS["heatmaps"])
    checked = 0
    for s in ds.samples:
        image, _ = read_image(s.image_path, rgb=True)
        out = t(image, s)
        assert out.image.shape == (*INPUT, 3) and out.image.dtype == np.uint8
        center, scale, rot, flip = t.params(s, image.shape, None)
        assert rot == 0 and not flip
        ref = cv2.warpAffine(image, get_affine_transform(center, scale, 0, INPUT), INPUT[::-1])
        # The crop warps only the region it samples: the same up to OpenCV's 1/32-pixel
        # coordinate rounding after the shift of origin.
        diff = np.abs(out.image.astype(int) - ref)
        assert diff.max() <= 1 and diff.mean() < 0.05
        assert np.array_equal(image, cv2.imread(s.image_path)[..., ::-1])  # RGB
        coords, _ = codec.decode(out.heatmaps["heatmaps"][None], mode="dark")
        # Labelled joints inside the padded box are all kept.
        assert (out.weights > 0).sum() == (s.keypoints[:, 2] > 0).sum()
        w = (out.weights > 0) & _interior(out.keypoints)
        np.testing.assert_allclose(coords[0][w], out.keypoints[w, :2], atol=0.3)
        # Back to the image: the original annotation.
        inv = get_affine_transform(center, scale, 0, INPUT, inverse=True)
        back = affine_points(coords[0][w], inv)
        tol = 0.3 * scale[0] / INPUT[1] + 1e-3
        np.testing.assert_allclose(back, s.keypoints[w, :2], atol=tol)
        checked += int(w.sum())
    assert checked > 80


@pytest.mark.parametrize("flip", [False, True])
def test_flip_and_rotation_follow_the_pixels(coco_sample: Path, flip: bool):
    ds = load_coco(coco_sample / "train.json")
    names = ds.keypoint_info.names
    lw, rw = names.index("left_wrist"), names.index("right_wrist")
    aug = AugmentConfig(rotation=45, rotation_prob=1.0, scale_range=(0.8, 1.2), flip=flip,
                        flip_prob=1.0, half_body_prob=0.0)  # fmt: skip
    t = TopDownTransform(ds.keypoint_info, CODEC, encode=True, augment=aug)
    codec = HeatmapCodec(INPUT, t.heatmap_size, SIGMAS["heatmaps"])
    rng = np.random.default_rng(0)
    tested = 0
    for s in ds.samples[:60]:
        if s.keypoints[lw, 2] == 0:
            continue
        h, w = cv2.imread(s.image_path).shape[:2]
        out = t(_blank_with_dot(s, (h, w, 3), lw), s, rng)
        label = rw if flip else lw  # a mirrored left wrist looks like a right wrist
        if out.weights[label] == 0:
            continue
        np.testing.assert_allclose(_brightest(out.image), out.keypoints[label, :2], atol=1.0)
        if _interior(out.keypoints[label]):
            coords, _ = codec.decode(out.heatmaps["heatmaps"][None], mode="dark")
            np.testing.assert_allclose(coords[0, label], _brightest(out.image), atol=1.0)
        tested += 1
    assert tested >= 20


def test_flip_swaps_pairs_on_lsp(lspet: Path):
    ds = load_lsp(lspet / "train_lsp14.json")
    ds = dataclasses.replace(ds, samples=ds.samples[:20])
    plain = TopDownTransform(ds.keypoint_info, CODEC, encode=True)
    flipped = TopDownTransform(ds.keypoint_info, CODEC, encode=True, augment=AugmentConfig(
        rotation=0, scale_range=(1, 1), flip_prob=1.0, half_body_prob=0.0))  # fmt: skip
    perm = np.arange(14)
    for a, b in ds.keypoint_info.flip_pairs:
        perm[a], perm[b] = b, a
    for s in ds.samples:
        image = cv2.imread(s.image_path)
        p, f = plain(image, s), flipped(image, s, np.random.default_rng(1))
        # The flip is folded into the warp matrix: equal up to 1/32-pixel rounding.
        assert np.abs(f.image.astype(int) - p.image[:, ::-1]).max() <= 1
        lab = p.keypoints[:, 2] > 0
        np.testing.assert_allclose(f.keypoints[perm][lab, 0], INPUT[1] - 1 - p.keypoints[lab, 0],
                                   atol=1e-3)  # fmt: skip
        np.testing.assert_allclose(f.keypoints[perm][lab, 1], p.keypoints[lab, 1], atol=1e-3)
        np.testing.assert_allclose(f.heatmaps["heatmaps"][..., perm],
                                   p.heatmaps["heatmaps"][:, ::-1], atol=1e-5)  # fmt: skip


def test_half_body_keeps_chosen_half(coco_sample: Path):
    ds = load_coco(coco_sample / "train.json")
    aug = AugmentConfig(rotation=0, scale_range=(1, 1), flip=False, half_body_prob=1.0)
    t = TopDownTransform(ds.keypoint_info, CODEC, encode=True, augment=aug)
    full = TopDownTransform(ds.keypoint_info, CODEC, encode=True)
    rng = np.random.default_rng(0)
    smaller = 0
    for s in ds.samples:
        if (s.keypoints[:, 2] > 0).sum() <= 8:
            continue
        shape = (1000, 1000, 3)
        _, scale_half, _, _ = t.params(s, shape, rng)
        _, scale_full, _, _ = full.params(s, shape, None)
        smaller += int(scale_half[1] < scale_full[1])
    assert smaller >= 10


def test_joints_outside_crop_get_zero_weight():
    from danet_tf.codec import KeypointInfo
    from danet_tf.data import PoseSample

    kpts = np.zeros((17, 3), np.float32)
    kpts[:, :2] = [50, 60]
    kpts[:, 2] = 2
    kpts[3] = [400, 60, 2]  # far outside the box and the crop
    kpts[4] = [55, 65, 0]  # unlabelled
    s = PoseSample("x.jpg", 1, np.array([30, 30, 40, 60], np.float32), kpts)
    out = TopDownTransform(KeypointInfo.coco(), CODEC, encode=True)(np.zeros((200, 300, 3), np.uint8), s)
    assert out.weights[3] == 0 and out.weights[4] == 0 and out.weights.sum() == 15
    assert not out.heatmaps["heatmaps"][..., 3].any()
    # A box reaching outside the image is clipped before cropping.
    s2 = PoseSample("x.jpg", 1, np.array([-100, 30, 160, 60], np.float32), kpts)
    center, _, _, _ = TopDownTransform(KeypointInfo.coco(), CODEC, encode=True).params(
        s2, (200, 300, 3), None)  # fmt: skip
    assert center[0] == pytest.approx(30.0)


@pytest.mark.parametrize("rotation", [0.0, 17.0, -40.0])
@pytest.mark.parametrize("center", [(50.0, 40.0), (5.0, 80.0), (150.0, 40.0)])
def test_region_warp_matches_codec_crop_person(rotation, center):
    """The region warp (crops near and across the image border too) equals the full warp."""
    from danet_tf.codec import crop_person
    from danet_tf.data.augment import source_region, warp_crop

    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    scale = np.array([60.0, 80.0])
    matrix = get_affine_transform(np.array(center), scale, rotation, INPUT)
    full = crop_person(image, np.array(center), scale, INPUT, rotation)
    diff = np.abs(warp_crop(image, matrix, INPUT).astype(int) - full)
    assert diff.max() <= 1 and diff.mean() < 0.05
    y0, x0, h, w = source_region(matrix, image.shape[:2], INPUT)
    assert 0 <= y0 and 0 <= x0 and y0 + h <= 90 and x0 + w <= 120
    if center == (50.0, 40.0) and rotation == 0.0:  # a crop well inside samples a part only
        assert h * w < 90 * 120


def test_region_warp_outside_image_is_border():
    from danet_tf.data.augment import source_region, warp_crop

    image = np.full((50, 60, 3), 200, np.uint8)
    matrix = get_affine_transform(np.array([500.0, 500.0]), np.array([30.0, 40.0]), 0.0, INPUT)
    assert source_region(matrix, image.shape[:2], INPUT) is None
    assert not warp_crop(image, matrix, INPUT).any()


def _half_body_sample():
    from danet_tf.data import PoseSample

    rng = np.random.default_rng(1)
    kpts = np.zeros((17, 3), np.float32)
    kpts[:11, :2] = rng.uniform([100, 50], [160, 140], (11, 2))  # nose .. wrists
    kpts[11:, :2] = rng.uniform([90, 150], [170, 300], (6, 2))  # hips .. ankles
    kpts[:, 2] = 2
    return PoseSample("x.jpg", 1, np.array([80, 40, 100, 270], np.float32), kpts)


@pytest.mark.parametrize(("upper_prob", "half"), [(1.0, slice(0, 11)), (0.0, slice(11, 17))])
def test_half_body_is_centred_on_the_chosen_joints_mean(upper_prob, half):
    from danet_tf.codec import KeypointInfo, box_to_center_scale

    s = _half_body_sample()
    aug = AugmentConfig(rotation=0, scale_range=(1, 1), flip=False, half_body_prob=1.0,
                        half_body_upper_prob=upper_prob)  # fmt: skip
    t = TopDownTransform(KeypointInfo.coco(), PLAIN, augment=aug)
    center, scale, _, _ = t.params(s, (400, 300, 3), np.random.default_rng(0))
    pts = s.keypoints[half, :2].astype(np.float64)
    np.testing.assert_allclose(center, pts.mean(0), rtol=1e-6)
    lo, hi = pts.min(0), pts.max(0)
    _, expected = box_to_center_scale([*lo, *(hi - lo)], INPUT[1] / INPUT[0], 1.5)
    np.testing.assert_allclose(scale, expected, rtol=1e-6)
    # Not the centre of the joints' extent, which is what a box-based crop would give.
    assert np.abs(center - (lo + hi) / 2).max() > 1.0


def test_half_body_keeps_the_upper_body_at_the_configured_rate():
    from danet_tf.codec import KeypointInfo

    s = _half_body_sample()
    t = TopDownTransform(KeypointInfo.coco(), PLAIN, augment=AugmentConfig(half_body_prob=1.0))
    upper_mean = s.keypoints[:11, :2].mean(0)
    rng = np.random.default_rng(0)
    upper = [np.allclose(t.half_body(s.keypoints, rng)[0], upper_mean) for _ in range(2000)]
    assert 0.66 < np.mean(upper) < 0.74  # 0.7 +- 4 standard errors
