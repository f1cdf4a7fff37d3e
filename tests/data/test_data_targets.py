"""The in-graph target encoder must equal the codec's numpy encoding."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from danet_tf.codec import HeatmapCodec
from danet_tf.data.targets import encode_heatmaps


@pytest.mark.parametrize("input_size, heatmap_size", [((256, 192), (64, 48)), ((64, 48), (16, 12)),
                                                      ((128, 128), (64, 64))])  # fmt: skip
def test_matches_codec(input_size, heatmap_size):
    rng = np.random.default_rng(0)
    b, k = 6, 17
    kpts = np.zeros((b, k, 3), np.float32)
    kpts[..., 0] = rng.uniform(-20, input_size[1] + 20, (b, k))
    kpts[..., 1] = rng.uniform(-20, input_size[0] + 20, (b, k))
    kpts[..., 2] = rng.integers(0, 3, (b, k))
    kpts[0, 0] = [-0.5, -0.5, 2]  # exactly on the crop's edges
    kpts[0, 1] = [input_size[1] - 0.5, 3, 2]
    kpts[0, 2] = [np.nan, 3, 2]
    sigmas = {"coarse": 2.6, "fine": 1.4}
    out = encode_heatmaps(tf.constant(kpts), HeatmapCodec(input_size, heatmap_size, level_sigmas=sigmas))
    for level, sigma in sigmas.items():
        codec = HeatmapCodec(input_size, heatmap_size, sigma)
        for i in range(b):
            hm, wt = codec.encode(kpts[i])
            np.testing.assert_allclose(out[level][i].numpy(), hm, atol=2e-6)
            np.testing.assert_array_equal(out["weights"][i].numpy(), wt)
            np.testing.assert_array_equal(out["visible"][i].numpy(), wt * (kpts[i, :, 2] == 2))
    assert out["fine"].shape == (b, *heatmap_size, k)
