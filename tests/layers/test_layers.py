import numpy as np
import pytest

from danet_tf.export.rewrites.layers import DepthToSpace, SpaceToDepth
from danet_tf.layers import (
    ChannelAttention,
    DenseAttentionLayer,
    MaskAttention,
    OrthogonalAttentionBlock,
    PreActConv,
    ResidualBlock,
    SecondOrderFusion,
    XUnit,
)
from tests.harness import check_layer

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 12, 10, 8)).astype("float32")
G = RNG.normal(size=(2, 12, 10, 4)).astype("float32")
X2 = RNG.normal(size=X.shape).astype("float32")


HARNESS_CASES = [
        (PreActConv(6, 3), X),
        (PreActConv(6, 3, 2), X),
        (PreActConv(0 + 8, 5, kind="depthwise"), X),
        (PreActConv(6, 4, 2, kind="transpose"), X),
        (ChannelAttention(4), X),
        (MaskAttention(3), [X, G]),
        (MaskAttention(3, mode="multiply"), [X, G]),
        (MaskAttention(3, mode="residual", use_abs=False), [X, G]),
        (XUnit(3), X),
        (DenseAttentionLayer(4, 4, kernel_size=3), X),
        (DenseAttentionLayer(4, 4, cau_position="both", spatial="xunit", kernel_size=3), X),
        (DenseAttentionLayer(4, 4, cau_position="mask", kernel_size=3), X),
        (OrthogonalAttentionBlock(2, growth_rate=4, bottleneck=4, kernel_size=3), X),
        (SecondOrderFusion(3), [X, X2]),
        (ResidualBlock(8), X),
        (ResidualBlock(6, 2), X),
]


@pytest.mark.parametrize(
    "layer, data", HARNESS_CASES,
    ids=lambda v: type(v).__name__ if not isinstance(v, (np.ndarray, list)) else "",
)
def test_layer_harness(layer, data, tmp_path):
    check_layer(layer, data, tmp_path)


def test_every_layer_of_the_package_has_a_harness_case():
    """A new layer in danet_tf.layers fails here until it joins HARNESS_CASES."""
    import inspect

    import keras

    import danet_tf.layers as package

    layers = {obj for _, obj in inspect.getmembers(package, inspect.isclass)
              if issubclass(obj, keras.layers.Layer)}
    covered = {type(layer) for layer, _ in HARNESS_CASES}
    assert layers and not layers - covered, sorted(c.__name__ for c in layers - covered)


@pytest.mark.parametrize("layer", [DepthToSpace(2), SpaceToDepth(2)], ids=lambda v: type(v).__name__)
def test_deployment_layer_harness(layer, tmp_path):
    """The two layers the export rewrites add (no weights: no training step)."""
    check_layer(layer, X[:, :12, :10, :8], tmp_path, train=False)
    # their inverse relation pins the channel order TFLite's ops use
    if isinstance(layer, SpaceToDepth):
        np.testing.assert_array_equal(np.asarray(DepthToSpace(2)(layer(X))), X)


def test_dense_layer_grows_by_growth_rate():
    out = DenseAttentionLayer(5, 4, kernel_size=3)(X)
    assert out.shape == (2, 12, 10, 13)
    np.testing.assert_array_equal(np.asarray(out)[..., :8], X)  # input passes through


@pytest.mark.parametrize(
    "mode, use_abs, gate",
    [
        ("orthogonal", True, lambda m: 1.0 - m),
        ("multiply", True, lambda m: m),
        ("residual", True, lambda m: 1.0 + m),
        ("orthogonal", False, lambda m: 1.0 - m),
    ],
)
def test_mask_attention_follows_eq1(mode, use_abs, gate):
    layer = MaskAttention(3, mode=mode, use_abs=use_abs)
    out = np.asarray(layer([X, G]))
    logits = np.asarray(layer.spatial(layer.project(X)))
    if use_abs:
        logits = np.abs(logits)
    mask = 1.0 / (1.0 + np.exp(-logits))
    if use_abs:
        assert mask.min() >= 0.5  # sigmoid(|.|): the paper's M lies in [0.5, 1)
    np.testing.assert_allclose(out, G * gate(mask), rtol=1e-5, atol=1e-6)


def test_sfu_is_convex_combination():
    layer = SecondOrderFusion(3)
    a = np.full((1, 4, 4, 8), 2.0, "float32")
    b = np.full((1, 4, 4, 8), -1.0, "float32")
    out = np.asarray(layer([a, b]))
    assert np.all(out <= 2.0 + 1e-6) and np.all(out >= -1.0 - 1e-6)
    assert not np.allclose(out, 0.5)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: PreActConv(4, kind="dilated"), "unknown conv kind 'dilated'"),
        (lambda: PreActConv(0), "must be positive"),
        (lambda: MaskAttention(mode="add"), "unknown mask attention mode 'add'"),
        (lambda: DenseAttentionLayer(cau_position="top"), "unknown cau_position 'top'"),
        (lambda: DenseAttentionLayer(cau_position="mask", spatial="none"),
         "cau_position='mask' gates the mask branch"),
        (lambda: DenseAttentionLayer(spatial="se"), "unknown spatial gate 'se'"),
        (lambda: OrthogonalAttentionBlock(0), "num_layers must be positive"),
    ],
)
def test_bad_arguments_name_the_value(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_sfu_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="equal channels, got 8 and 4"):
        SecondOrderFusion(3)([X, G])
