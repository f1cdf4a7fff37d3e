"""Crop geometry: box -> centre/scale -> affine, inverse, crops."""

import numpy as np
import pytest

from danet_tf.codec import affine_points, box_to_center_scale, crop_person, get_affine_transform


def test_box_to_center_scale_keeps_aspect_and_pads():
    center, scale = box_to_center_scale([10, 20, 30, 100], aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(center, [25, 70])
    np.testing.assert_allclose(scale, [75 * 1.25, 100 * 1.25])
    _, scale = box_to_center_scale([0, 0, 300, 100], aspect_ratio=0.75, padding=1.0)
    np.testing.assert_allclose(scale, [300, 400])
    with pytest.raises(ValueError, match="x, y, w, h"):
        box_to_center_scale([1, 2, 3], 0.75, 1.25)


def test_affine_maps_region_edges_to_crop_edges():
    center, scale = np.array([100.0, 50.0]), np.array([60.0, 80.0])
    m = get_affine_transform(center, scale, 0.0, (256, 192))
    assert m.shape == (2, 3)
    pts = np.array([[100, 50], [70, 10], [130, 90]], np.float32)
    np.testing.assert_allclose(
        affine_points(pts, m), [[95.5, 127.5], [-0.5, -0.5], [191.5, 255.5]], atol=1e-4
    )
    inv = get_affine_transform(center, scale, 0.0, (256, 192), inverse=True)
    np.testing.assert_allclose(affine_points(affine_points(pts, m), inv), pts, atol=1e-3)


def test_positive_rotation_turns_content_counter_clockwise():
    m = get_affine_transform([50, 50], [100, 100], 90.0, (100, 100))
    # A point above the centre ends up left of the crop centre.
    out = affine_points(np.array([50.0, 20.0]), m)
    np.testing.assert_allclose(out, [49.5 - 30, 49.5], atol=1e-4)
    inv = get_affine_transform([50, 50], [100, 100], 90.0, (100, 100), inverse=True)
    np.testing.assert_allclose(affine_points(out, inv), [50, 20], atol=1e-4)


def test_crop_person_puts_pixels_where_affine_points_says():
    image = np.zeros((200, 300, 3), np.uint8)
    image[120, 170] = 255
    center, scale = box_to_center_scale([120, 60, 100, 120], aspect_ratio=0.75, padding=1.25)
    for rot in (0.0, 30.0):
        crop = crop_person(image, center, scale, (128, 96), rotation_deg=rot)
        assert crop.shape == (128, 96, 3)
        m = get_affine_transform(center, scale, rot, (128, 96))
        x, y = affine_points(np.array([170.0, 120.0]), m)
        peak = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
        assert abs(peak[0] - y) < 1.0 and abs(peak[1] - x) < 1.0
