"""The authors' test protocol (danet_tf.codec.authors): answers that follow from geometry."""

import math

import cv2
import numpy as np
import pytest

from danet_tf.codec import HeatmapCodec, authors

INPUT, HEATMAP = (256, 192), (64, 48)
CODEC = HeatmapCodec(INPUT, HEATMAP, sigma=2.0)
MEAN = (103.53, 116.28, 123.675)
STD = (57.375, 57.12, 58.395)


def _gaussian_at(x: float, y: float, peak: float = 1.0) -> np.ndarray:
    """A (1, 64, 48, 1) map whose Gaussian is centred on heatmap cell (x, y)."""
    crop_xy = CODEC.to_input(np.array([x, y]))
    maps, _ = CODEC.encode(np.array([[crop_xy[0], crop_xy[1], 2.0]]))
    return maps[None] * np.float32(peak)


def test_extend_box_grows_10_percent_then_to_the_aspect_ratio():
    # Tall box 100 x 200: 110 x 220, then widened to 220 * 0.75 = 165 about its centre.
    np.testing.assert_allclose(
        authors.extend_box([10, 20, 100, 200], 0.75), [60 - 82.5, 120 - 110, 60 + 82.5, 230]
    )
    # Wide box 300 x 100: 330 x 110, then heightened to 330 / 0.75 = 440.
    np.testing.assert_allclose(authors.extend_box([0, 0, 300, 100], 0.75), [-15, -170, 315, 270])
    # No extension and the right aspect already: the box itself.
    np.testing.assert_allclose(authors.extend_box([5, 6, 75, 100], 0.75, (0, 0)), [5, 6, 80, 106])
    center, scale = authors.box_to_region([10, 20, 100, 200], 0.75)
    np.testing.assert_allclose(center, [60, 120])
    np.testing.assert_allclose(scale, [165, 220])


def test_crop_matrix_takes_the_region_edges_to_0_and_the_input_size():
    center, scale = authors.box_to_region([40, 30, 90, 160], 0.75)
    m = authors.crop_matrix(center, scale, INPUT)
    x1, y1 = center - scale / 2
    x2, y2 = center + scale / 2
    corners = np.array([[x1, y1, 1], [x2, y2, 1], [*center, 1]]) @ m.T
    # Not the -0.5 / W - 0.5 of the package convention: theirs is half a pixel off ours.
    np.testing.assert_allclose(corners, [[0, 0], [192, 256], [96, 128]], atol=1e-9)
    assert m[0, 1] == m[1, 0] == 0 and m[0, 0] == m[1, 1] == 192 / scale[0]


def test_crop_with_mean_border_equals_their_warp_of_the_normalised_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    # A region sticking out of the image on every side, scaled by a non-integer factor.
    center, scale = authors.box_to_region([-20, -10, 130, 150], 0.75)
    ours = (authors.crop(image, center, scale, INPUT, MEAN) - MEAN) / STD
    normalised = (image.astype(np.float32) - MEAN) / STD
    theirs = cv2.warpAffine(
        normalised.astype(np.float32), authors.crop_matrix(center, scale, INPUT), (192, 256),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    crop = authors.crop(image, center, scale, INPUT, MEAN)
    assert crop.dtype == np.float32
    np.testing.assert_array_equal(crop[0, 0], np.float32(MEAN))  # outside: the mean colour
    assert np.any(crop != np.round(crop))  # warped as float, never rounded to uint8


def test_cells_to_image_is_the_inverse_of_the_crop():
    center, scale = authors.box_to_region([312.5, 48.0, 61.0, 170.0], 0.75)
    cells = np.random.default_rng(1).uniform([0, 0], [47, 63], (17, 2))
    image_xy = authors.cells_to_image(cells, center, scale, INPUT, HEATMAP)
    m = authors.crop_matrix(center, scale, INPUT)
    back = image_xy.astype(np.float64) @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(back, (cells + 0.5) * 4 - 0.5, atol=2e-3)


def test_decode_subpixel_peak_shifts_toward_the_second_and_third_highest():
    # Gaussian at (20.3, 30.2): maximum cell (20, 30); next highest (21, 30) (0.53 cells^2
    # away), then (20, 31) (0.73). Their first zeroing misses the maximum, so the 0.35 step
    # finds the maximum itself and does not move; 0.15 goes to (21, 30), then 0.05 from
    # (20.15, 30) toward (20, 31).
    cells, scores = authors.decode(_gaussian_at(20.3, 30.2))
    d = np.array([-0.15, 1.0])
    expected = np.array([20.15, 30.0]) + 0.05 * d / np.linalg.norm(d)
    np.testing.assert_allclose(cells[0, 0], expected, atol=1e-9)
    assert cells[0, 0, 0] < 20.2  # the 0.35 step of the code as written never happens
    peak = np.exp(-(0.3**2 + 0.2**2) / 8)  # the map's value at cell (20, 30)
    np.testing.assert_allclose(scores[0, 0], peak / authors.HEAT_RANGE + 1, rtol=1e-6)


def test_decode_single_peak_breaks_ties_in_row_major_order():
    # One hot cell: its four neighbours blur to exactly equal values; numpy's argmax takes
    # the first in row-major order: above (10, 39), then left (9, 40).
    hm = np.zeros((1, 64, 48, 1), np.float32)
    hm[0, 40, 10, 0] = 1.0
    cells, scores = authors.decode(hm)
    d = np.array([-1.0, 0.15])
    expected = np.array([10.0, 39.85]) + 0.05 * d / np.linalg.norm(d)
    np.testing.assert_allclose(cells[0, 0], expected, atol=1e-9)
    assert scores[0, 0] == 2.0  # rounded position (10, 40): 1 / 1 + 1


def test_decode_edge_peak_is_dragged_inward_by_the_zero_padding():
    hm = _gaussian_at(47.0, 30.2)  # on the last column
    cells, _ = authors.decode(hm)
    # Zero padding lowers the blurred edge column below its inner neighbour: the maximum
    # lands a cell inside, where our replicated-border decode keeps it at the edge.
    assert 45.5 < cells[0, 0, 0] < 46.5, cells
    ours, _ = CODEC.decode(hm, "blur_shift")
    assert CODEC.to_heatmap(ours)[0, 0, 0] > 46.5


def test_decode_blur_of_17_prefers_a_broad_response_to_a_narrow_spike():
    # A one-cell spike of 5 at (10, 20) and a broad Gaussian (sigma 3) of peak 0.5 at
    # (30, 40). Blurred by 17x17 (sigma 2.9) the spike falls to about 5 / (2 pi 2.9^2) = 0.09
    # and the bump keeps 0.5 * 9 / (9 + 2.9^2) = 0.26: the bump wins. (A 5x5 blur would
    # leave the spike at about 0.68, above the bump's 0.44.)
    hm = HeatmapCodec(INPUT, HEATMAP, sigma=3.0).encode(
        np.array([[*CODEC.to_input(np.array([30.0, 40.0])), 2.0]])
    )[0][None] * np.float32(0.5)
    hm[0, 20, 10, 0] = 5.0
    cells, scores = authors.decode(hm)
    assert np.abs(cells[0, 0] - [30, 40]).max() < 0.25, cells
    np.testing.assert_allclose(scores[0, 0], 1.5, rtol=1e-6)


def test_decode_flat_maps_land_on_the_first_cell():
    # An all-zero map: the maximum is padded cell (0, 0), i.e. (-10, -10); the quirk's
    # zeroing wraps to the far side; nothing moves; clipping gives (0, 0).
    cells, scores = authors.decode(np.zeros((2, 64, 48, 3), np.float32))
    np.testing.assert_array_equal(cells, 0.0)
    np.testing.assert_array_equal(scores, 1.0)
    # Negative everywhere: the zero padding holds the maximum; the score is read at (0, 0).
    cells, scores = authors.decode(np.full((1, 64, 48, 1), -0.5, np.float32))
    np.testing.assert_array_equal(cells, 0.0)
    np.testing.assert_allclose(scores, 0.5)


def test_score_rule_and_heat_range():
    hm = _gaussian_at(12.3, 50.6, peak=0.8)  # no ties among its neighbours
    cells, scores = authors.decode(hm)
    ix, iy = (int(np.rint(v)) for v in cells[0, 0])
    np.testing.assert_allclose(scores[0, 0], hm[0, iy, ix, 0] + 1, rtol=1e-6)
    # Targets peaking at 255 with heat_range 255: same positions, same scores.
    cells_255, scores_255 = authors.decode(hm * 255, heat_range=255)
    np.testing.assert_allclose(cells_255, cells, atol=1e-9)
    np.testing.assert_allclose(scores_255, scores, rtol=1e-5)
    person = authors.person_scores(np.array([[1.5, 1.7], [1.0, 2.0]]), [0.5, 1.0])
    np.testing.assert_allclose(person, [0.8, 1.5], rtol=1e-6)


def test_decode_batch_matches_one_by_one():
    rng = np.random.default_rng(2)
    hm = rng.normal(0, 0.1, (3, 64, 48, 17)).astype(np.float32)
    hm[1] += _gaussian_at(30.6, 10.1)[0]
    cells, scores = authors.decode(hm)
    for i in range(3):
        one = authors.decode(hm[i : i + 1])
        np.testing.assert_array_equal(one[0][0], cells[i])
        np.testing.assert_array_equal(one[1][0], scores[i])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: authors.decode(np.zeros((64, 48, 17))),
            r"\(N, H, W, K\), got shape \(64, 48, 17\)",
        ),
        (lambda: authors.decode(np.zeros((1, 64, 48, 1)), 0.0), "heat_range .* got 0.0"),
        (lambda: authors.decode(np.zeros((1, 64, 48, 1)), math.nan), "heat_range .* got nan"),
        (lambda: authors.extend_box([0, 0, 0, 10], 0.75), r"width and height .* \[0, 0, 0, 10\]"),
        (lambda: authors.extend_box([0, 0, 5], 0.75), r"4 finite numbers .* \[0, 0, 5\]"),
        (lambda: authors.extend_box([0, 0, 5, 5], -1.0), "aspect_ratio .* -1.0"),
        (lambda: authors.extend_box([0, 0, 5, 5], 0.75, (-0.1, 0)), r"extend .* \(-0.1, 0\)"),
        (lambda: authors.crop_matrix([0, 0], [0, 10], INPUT), r"scale .* \[0, 10\]"),
        (lambda: authors.crop_matrix([0, 0], [5, 10], (0, 3)), r"input_size .* \(0, 3\)"),
        (
            lambda: authors.crop(np.zeros((9, 9, 3), np.uint8), [4, 4], [8, 8], INPUT, math.inf),
            "border_value must be finite, got inf",
        ),
        (lambda: authors.person_scores(np.ones((2, 17)), [1.0]), r"N = 1 .* \(2, 17\)"),
    ],
)
def test_bad_input_names_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()
