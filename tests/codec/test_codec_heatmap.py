"""Encoding/decoding conventions of HeatmapCodec."""

import numpy as np
import pytest

from danet_tf.codec import DECODE_MODES, HeatmapCodec


def _random_keypoints(rng: np.random.Generator, n: int, margin: float) -> np.ndarray:
    xy = rng.uniform([margin, margin], [191 - margin, 255 - margin], (n, 2))
    return np.concatenate([xy, np.full((n, 1), 2.0)], axis=1)


def test_encode_shapes_and_pixel_centre_convention():
    codec = HeatmapCodec(sigma=2.0)
    # Cell (u=10, v=20) has its centre at input pixel ((u + .5) * 4 - .5, (v + .5) * 4 - .5).
    kpts = np.array([[41.5, 81.5, 2], [0.0, 0.0, 0], [500.0, 10.0, 2], [-3.0, 10.0, 1]])
    heatmaps, weights = codec.encode(kpts)
    assert heatmaps.shape == (64, 48, 4) and heatmaps.dtype == np.float32
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, [1, 0, 0, 0])
    assert np.unravel_index(heatmaps[..., 0].argmax(), (64, 48)) == (20, 10)
    assert heatmaps[20, 10, 0] == pytest.approx(1.0)
    # Exact Gaussian of sigma 2 cells.
    assert heatmaps[20, 12, 0] == pytest.approx(np.exp(-4 / 8), rel=1e-6)
    # Invisible and out-of-crop joints: all-zero maps.
    assert not heatmaps[..., 1:].any()


def test_encode_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(17, 2\)"):
        HeatmapCodec().encode(np.zeros((17, 2)))
    with pytest.raises(ValueError, match="sigma"):
        HeatmapCodec(sigma=0)


@pytest.mark.parametrize("mode", DECODE_MODES)
def test_decode_recovers_encoded_points(mode):
    codec = HeatmapCodec()
    rng = np.random.default_rng(0)
    kpts = _random_keypoints(rng, 8 * 17, margin=16).reshape(8, 17, 3)
    heatmaps = np.stack([codec.encode(k)[0] for k in kpts])
    coords, scores = codec.decode(heatmaps, mode=mode)
    assert coords.shape == (8, 17, 2) and scores.shape == (8, 17)
    assert coords.dtype == np.float32
    err = np.abs(coords - kpts[..., :2])
    # Sub-pixel refinement must beat the plain argmax (max error half a cell = 2 px per axis).
    limit = {"shift": 2.0, "blur_shift": 2.5, "dark": 0.1}[mode]
    assert err.max() < limit
    mean_limit = {"shift": 0.9, "blur_shift": 1.0, "dark": 0.02}[mode]
    assert err.mean() < mean_limit
    assert np.all(scores > 0.85) and np.all(scores <= 1.0)


def test_shift_moves_a_quarter_cell_toward_higher_neighbour():
    codec = HeatmapCodec()
    hm = np.zeros((1, 64, 48, 1), np.float32)
    hm[0, 30, 20, 0] = 1.0
    hm[0, 30, 21, 0] = 0.5  # right neighbour higher than the left one
    hm[0, 29, 20, 0] = 0.4  # upper neighbour higher than the lower one
    coords, scores = codec.decode(hm, "shift")
    np.testing.assert_allclose(coords[0, 0], codec.to_input(np.array([20.25, 29.75])))
    assert scores[0, 0] == 1.0


def test_blur_shift_moves_toward_second_maximum():
    codec = HeatmapCodec()
    hm = np.zeros((1, 64, 48, 1), np.float32)
    hm[0, 30, 20, 0] = 1.0
    hm[0, 31, 21, 0] = 0.9  # second maximum diagonally below right
    coords, _ = codec.decode(hm, "blur_shift")
    cell = codec.to_heatmap(coords[0, 0])
    step = 0.25 / np.sqrt(2)
    np.testing.assert_allclose(cell, [20 + step, 30 + step], atol=1e-5)


def test_decode_rejects_bad_input():
    codec = HeatmapCodec()
    with pytest.raises(ValueError, match="unknown decode mode 'argmax'"):
        codec.decode(np.zeros((1, 64, 48, 17)), mode="argmax")
    with pytest.raises(ValueError, match=r"\(32, 24\)"):
        codec.decode(np.zeros((1, 32, 24, 17)))
    with pytest.raises(ValueError, match="N, H, W, K"):
        codec.decode(np.zeros((64, 48, 17)))


def test_other_sizes_use_their_own_stride():
    codec = HeatmapCodec(input_size=(128, 96), heatmap_size=(32, 24), sigma=1.0)
    np.testing.assert_allclose(codec.stride, [4.0, 4.0])
    kpts = np.array([[50.2, 70.7, 2.0]])
    heatmaps, _ = codec.encode(kpts)
    assert heatmaps.shape == (32, 24, 1)
    coords, _ = codec.decode(heatmaps[None], "dark")
    np.testing.assert_allclose(coords[0, 0], [50.2, 70.7], atol=0.05)


@pytest.mark.parametrize("mode", DECODE_MODES)
def test_batch_decode_equals_one_by_one(mode):
    codec = HeatmapCodec()
    rng = np.random.default_rng(3)
    heatmaps = rng.random((19, 64, 48, 17)).astype(np.float32)  # crosses chunk boundaries
    coords, scores = codec.decode(heatmaps, mode)
    for i in (0, 7, 8, 18):
        c1, s1 = codec.decode(heatmaps[i : i + 1], mode)
        np.testing.assert_array_equal(coords[i], c1[0])
        np.testing.assert_array_equal(scores[i], s1[0])
    empty_c, empty_s = codec.decode(np.zeros((0, 64, 48, 17), np.float32), mode)
    assert empty_c.shape == (0, 17, 2) and empty_s.shape == (0, 17)


def test_blur_kernel_sets_the_blur_shift_scale():
    """A tall one-cell spike and a broad lower bump: a 5x5 blur keeps the spike highest, the
    authors' 17x17 blur lets the bump win."""
    codec5 = HeatmapCodec((256, 192), (64, 48))
    codec17 = HeatmapCodec((256, 192), (64, 48), blur_kernel=17)
    yy, xx = np.mgrid[0:64, 0:48]
    hm = 0.5 * np.exp(-((xx - 35.0) ** 2 + (yy - 45.0) ** 2) / (2 * 3.0**2))
    hm[10, 10] = 5.0
    maps = hm[None, :, :, None].astype(np.float32)
    near = lambda xy, x, y: abs(xy[0] - x) < 1 and abs(xy[1] - y) < 1  # noqa: E731
    spike = codec5.to_heatmap(codec5.decode(maps, "blur_shift")[0][0, 0])
    bump = codec17.to_heatmap(codec17.decode(maps, "blur_shift")[0][0, 0])
    assert near(spike, 10, 10) and near(bump, 35, 45)
    assert "blur_kernel=17" in repr(codec17)
    with pytest.raises(ValueError, match="blur_kernel must be a positive odd integer, got 4"):
        HeatmapCodec(blur_kernel=4)
