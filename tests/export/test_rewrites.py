"""Export-time rewrites compute what the Keras model computes, and exports use them."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from danet_tf.benchmarks.profiling import depthwise_kernel_sizes, op_types, profile_tflite
from danet_tf.export import converters
from danet_tf.export import rewrites as R
from danet_tf.layers import MaskAttention, SecondOrderFusion, XUnit

TOL = 1e-5


def _randomize(model: keras.Model, seed: int = 0) -> None:
    """BatchNorm statistics and small-init kernels that make every branch matter; BatchNorm
    scales of both signs and some exactly zero."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        path = w.path
        if "gamma" in path:
            gamma = rng.normal(0.5, 1.0, w.shape)
            gamma[rng.uniform(size=w.shape) < 0.1] = 0.0
            w.assign(gamma.astype("float32"))
        elif "moving_variance" in path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
        elif "moving_mean" in path or "beta" in path or "bias" in path:
            w.assign(rng.normal(0.0, 0.3, w.shape).astype("float32"))
        elif "head2" in path and "kernel" in path:
            w.assign(rng.normal(0.0, 0.1, w.shape).astype("float32"))


@pytest.fixture(scope="module")
def tiny9():
    """danet_tiny with DANet's 9x9 MAU/SFU kernels (danet_tiny itself uses 3x3)."""
    from danet_tf.models import get_spec
    from danet_tf.models.builder import build_from_spec

    spec = dataclasses.replace(get_spec("danet_tiny"), attention_kernel=9)
    model = build_from_spec(spec, input_shape=(64, 64, 3), name="danet_tiny9")
    _randomize(model)
    return model


def _wrap(layer, shapes):
    inputs = [keras.Input(s, batch_size=1) for s in shapes]
    out = layer(inputs if len(inputs) > 1 else inputs[0])
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], out)
    _randomize(model, seed=1)
    return model


def _inputs(shapes, seed=2):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (1, *s)).astype("float32") for s in shapes]


def _large_depthwise(model):
    return [
        layer for layer in model.layers
        if isinstance(layer, keras.layers.DepthwiseConv2D) and max(layer.kernel_size) > 5
    ]  # fmt: skip


@pytest.mark.parametrize("block", [3, 5])
@pytest.mark.parametrize(
    ("kernel", "padding", "bias"),
    [(9, "same", False), (9, "same", True), (7, "valid", True), (8, "same", False),
     ((9, 3), "same", True), (11, "valid", False)],
)
def test_split_depthwise_is_exact(kernel, padding, bias, block):
    shape = (20, 14, 6)
    layer = keras.layers.DepthwiseConv2D(kernel, padding=padding, use_bias=bias)
    model = _wrap(layer, [shape])
    deploy = R.deployment_model(model, R.Rewrites(depthwise_block=block, fuse_elementwise=False))
    assert not _large_depthwise(deploy)
    (x,) = _inputs([shape])
    np.testing.assert_allclose(deploy(x).numpy(), model(x).numpy(), atol=TOL, rtol=0)
    if (kernel, padding, block) == (9, "same", 5):
        # MAU's and SFU's case: each of the four tiles pads the input itself (tiles at
        # offsets -4 and 0), no shared padding and no crops.
        assert _count(deploy, keras.layers.Cropping2D) == 0
        assert _count(deploy, keras.layers.ZeroPadding2D) == 4


@pytest.mark.parametrize(
    ("kernel", "stride", "bias"), [(4, 2, False), (4, 2, True), (3, 2, True), (6, 3, False)]
)
def test_transpose_as_phases_is_exact(kernel, stride, bias):
    shape = (7, 5, 6)
    layer = keras.layers.Conv2DTranspose(4, kernel, strides=stride, padding="same", use_bias=bias)
    model = _wrap(layer, [shape])
    deploy = R.deployment_model(model, dataclasses.replace(R.NONE, transpose_phases=True))
    assert not any(isinstance(la, keras.layers.Conv2DTranspose) for la in deploy.layers)
    (x,) = _inputs([shape])
    np.testing.assert_allclose(deploy(x).numpy(), model(x).numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "shape", "pads"),
    [(7, 2, "same", (20, 14, 3), 0), (7, 2, "same", (21, 15, 3), 1), (3, 2, "same", (9, 8, 1), 1),
     (5, 2, "valid", (20, 13, 3), 1), (4, 3, "same", (13, 11, 2), 1),
     (5, 2, "valid", (20, 12, 3), 0), (3, 2, "same", (8, 8, 1), 0), (5, 2, "same", (8, 12, 2), 1)],
)
def test_strided_as_space_to_depth_is_exact(kernel, stride, padding, shape, pads):
    """The int8 graphs' stem: a strided convolution over few channels as SPACE_TO_DEPTH and a
    stride-1 convolution (even and odd sizes, "same" and "valid", bias and ReLU); padding of
    whole blocks is left to the convolution or done after SPACE_TO_DEPTH (``pads``: the
    ZeroPadding2D layers expected; DANet's 7x7/2 stem on even sizes needs none)."""
    layer = keras.layers.Conv2D(5, kernel, strides=stride, padding=padding, activation="relu")
    model = _wrap(layer, [shape])
    deploy = R.deployment_model(model, R.INT8)
    convs = [la for la in deploy.layers if isinstance(la, keras.layers.Conv2D)]
    assert convs and all(tuple(la.strides) == (1, 1) for la in convs)
    assert _count(deploy, R.SpaceToDepth) == 1
    assert _count(deploy, keras.layers.ZeroPadding2D) == pads
    (x,) = _inputs([shape])
    np.testing.assert_allclose(deploy(x).numpy(), model(x).numpy(), atol=TOL, rtol=0)
    # Wider inputs keep their strided convolution.
    wide = _wrap(keras.layers.Conv2D(5, kernel, strides=stride, padding=padding), [shape[:2] + (8,)])
    assert _count(R.deployment_model(wide, R.INT8), R.SpaceToDepth) == 0


@pytest.mark.parametrize(
    ("make", "shapes"),
    [
        (lambda: MaskAttention(9, mode="orthogonal"), [(16, 12, 24), (16, 12, 8)]),
        (lambda: MaskAttention(9, mode="orthogonal", use_abs=False), [(16, 12, 24), (16, 12, 8)]),
        (lambda: MaskAttention(9, mode="residual", use_bias=True), [(16, 12, 24), (16, 12, 8)]),
        (lambda: SecondOrderFusion(9, use_bias=True), [(16, 12, 8), (16, 12, 8)]),
        (lambda: XUnit(9), [(16, 12, 8)]),
    ],
    ids=["mau", "mau-noabs", "mau-residual", "sfu", "xunit"],
)
@pytest.mark.parametrize(
    "rewrites", [R.Rewrites(), R.Rewrites(depthwise_block=3), R.Rewrites(depthwise_block=None)],
    ids=["all", "split3", "elementwise"],
)
def test_layer_rewrites_are_exact(make, shapes, rewrites):
    model = _wrap(make(), shapes)
    deploy = R.deployment_model(model, rewrites)
    inputs = _inputs(shapes)
    feed = inputs if len(inputs) > 1 else inputs[0]
    np.testing.assert_allclose(deploy(feed).numpy(), model(feed).numpy(), atol=TOL, rtol=0)
    assert bool(_large_depthwise(deploy)) == (rewrites.depthwise_block is None)


def _count(model, cls, kind=None):
    return sum(isinstance(layer, cls) and kind in (None, getattr(layer, "kind", None))
               for layer in model.layers)  # fmt: skip


def test_whole_model_rewrites_are_exact(tiny9):
    x = np.random.default_rng(3).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    reference = tiny9(x).numpy()
    assert np.abs(reference).max() > 0.1  # the comparison is not between near-zero maps
    for rewrites in (R.Rewrites(), R.Rewrites(depthwise_block=3), R.INT8, R.NONE):
        deploy = R.deployment_model(tiny9, rewrites)
        np.testing.assert_allclose(deploy(x).numpy(), reference, atol=TOL, rtol=0)
    assert R.deployment_model(tiny9, R.NONE) is tiny9


def test_keras_model_is_untouched(tiny9):
    before = [np.array(w) for w in tiny9.weights]
    layers = len(tiny9.layers)
    R.deployment_model(tiny9, R.Rewrites())
    assert len(tiny9.layers) == layers
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, tiny9.weights, strict=True))


def test_choice_per_format():
    assert R.export_rewrites("tflite").depthwise_block == 5
    assert R.export_rewrites("tflite", "int8").depthwise_block == 5
    assert R.export_rewrites("tflite", "int8-float-dw").depthwise_block == 5
    assert R.export_rewrites("keras") == R.NONE
    assert R.export_rewrites("onnx").fuse_elementwise
    assert R.export_rewrites("onnx").depthwise_block is None
    assert all(R.export_rewrites("tflite", q).integer_ops for q in ("int8", "int8-float-dw"))
    assert not R.export_rewrites("tflite").integer_ops
    qat = R.EXPORT_REWRITES["tflite-qat"]
    assert qat.depthwise_block == 5 and not (qat.fuse_elementwise or qat.transpose_phases)


def test_qat_graph_has_the_depthwise_tiles(tiny9):
    """QAT's tf_keras rebuild (DeployOps with the QAT rewrites) splits the 9x9 depthwise convolutions and computes
    what the Keras model computes."""
    import tf_keras

    from danet_tf.models.flatten import rebuild

    rebuilt = rebuild(tiny9, R.DeployOps(R.EXPORT_REWRITES["tflite-qat"], K=tf_keras), tf_keras)
    kernels = [tuple(la.kernel_size) for la in rebuilt.layers
               if isinstance(la, tf_keras.layers.DepthwiseConv2D)]  # fmt: skip
    assert kernels and max(max(k) for k in kernels) == 5
    x = np.random.default_rng(6).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(rebuilt(x).numpy(), tiny9(x).numpy(), atol=TOL, rtol=0)


@pytest.fixture(scope="module")
def exported(tiny9, tmp_path_factory):
    """float32 .tflite of tiny9, with the export rewrites and without (converted once)."""
    out = tmp_path_factory.mktemp("rewrites")
    paths = {"rewritten": out / "m.tflite", "plain": out / "plain.tflite"}
    converters.write_tflite(tiny9, paths["rewritten"])
    converters.write_tflite(tiny9, paths["plain"], rewrites=R.NONE)
    return paths


def test_exported_tflite_has_no_9x9_depthwise(exported):
    from ai_edge_litert.interpreter import Interpreter

    path, plain = exported["rewritten"], exported["plain"]
    assert (9, 9) in depthwise_kernel_sizes(plain)
    sizes = depthwise_kernel_sizes(path)
    assert sizes and all(max(s) <= 5 for s in sizes), sizes
    types = op_types(path)
    assert "MINIMUM" in types and "DEPTHWISE_CONV_2D" in types and "DEPTH_TO_SPACE" in types
    assert "TRANSPOSE_CONV" not in types and "TRANSPOSE_CONV" in op_types(plain)
    # The rewritten file computes what the plain one does.
    x = np.random.default_rng(4).uniform(0, 255, (1, 64, 64, 3)).astype("float32")
    outs = []
    for p in (path, plain):
        interpreter = Interpreter(model_path=str(p))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)


def test_exported_int8_has_no_9x9_depthwise(tiny9, tmp_path):
    calibration = np.random.default_rng(5).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    path = tmp_path / "m_int8.tflite"
    converters.write_tflite(tiny9, path, "int8", calibration)
    sizes = depthwise_kernel_sizes(path)
    assert sizes and all(max(s) <= 5 for s in sizes), sizes


def test_profile_covers_every_op(exported):
    path = exported["rewritten"]
    for xnnpack in (True, False):
        profile = profile_tflite(path, threads=1, xnnpack=xnnpack, rounds=2)
        assert sum(op.count for op in profile.ops) == len(op_types(path))
        assert profile.whole_model_ms > 0 and profile.sum_of_ops_ms > 0
        shares = [row[3] for row in profile.by_type()]
        assert abs(sum(shares) - 1.0) < 1e-6
        assert "DEPTHWISE_CONV_2D" in profile.table(top=3)
