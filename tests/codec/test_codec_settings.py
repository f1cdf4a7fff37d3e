"""The codec declares every setting once and carries it through dicts (configs, metadata)."""

import math

import numpy as np
import pytest

from danet_edge.codec import DEFAULT_LEVEL_SIGMAS, HeatmapCodec


def test_round_trip_keeps_every_setting():
    codec = HeatmapCodec((128, 96), (32, 24), sigma=1.1, blur_kernel=17, decode_mode="dark",
                         padding=1.3, flip_test=False)  # fmt: skip
    again = HeatmapCodec.from_dict(codec.to_dict())
    assert again == codec and again.to_dict() == codec.to_dict()
    assert again.level_sigmas["heatmaps"] == 1.1 and again.input_size == (128, 96)


def test_defaults_are_the_training_targets():
    codec = HeatmapCodec()
    assert codec.level_sigmas == DEFAULT_LEVEL_SIGMAS and codec.sigma == DEFAULT_LEVEL_SIGMAS["heatmaps"]
    assert codec.decode_mode == "blur_shift" and codec.flip_test and codec.padding == 1.25


def test_decode_uses_the_declared_mode():
    codec = HeatmapCodec(sigma=2.0)
    hm, _ = codec.encode(np.array([[81.7, 121.1, 2.0]]))  # cell (20.05, 29.9)
    dark, _ = codec.replace(decode_mode="dark").decode(hm[None])
    shift, _ = codec.replace(decode_mode="shift").decode(hm[None])
    np.testing.assert_array_equal(shift, codec.decode(hm[None], "shift")[0])
    assert abs(dark[0, 0, 0] - 81.7) < 0.3 < abs(shift[0, 0, 0] - 81.7)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"decode_mode": "argmax"}, "unknown decode mode 'argmax'"),
        ({"sigma": math.nan}, "sigma must be a finite number > 0, got nan"),
        ({"padding": 0.9}, "padding must be >= 1"),
        ({"flip_test": "yes"}, "flip_test must be true or false"),
        ({"blur_kernel": 4}, "blur_kernel must be a positive odd integer"),
        ({"level_sigmas": {"heatmaps": 2.0}, "sigma": 1.4}, "disagrees with sigma"),
        ({"stride": 4}, r"unknown codec settings \['stride'\]"),
    ],
)
def test_bad_settings_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        HeatmapCodec.from_dict(values, "cfg.codec")


def test_replace_changes_one_setting():
    codec = HeatmapCodec().replace(flip_test=False, sigma=2.0)
    assert not codec.flip_test and codec.sigma == 2.0 and codec.level_sigmas["heatmaps"] == 2.0
