"""Export-time graph rewrites: the same function as the Keras model, in ops that run faster.

A deployment graph is the model rebuilt as a flat functional graph of standard Keras layers
(:func:`deployment_model`), through each danet_tf layer's one ``_forward(x, ops)``
definition, with :class:`DeployOps` as ``ops``. The Keras model, training and ``.keras``
files never see these rewrites; the TFLite and ONNX writers (:mod:`converters`) build their
graph from the deployment model. Every rewrite is exact up to float rounding
(tests/export/test_rewrites.py checks each to 1e-5):

- ``depthwise_block``: a large depthwise convolution (MAU's and SFU's 9x9) becomes the sum of
  small depthwise convolutions on shifted windows of the zero-padded input; the kernel is
  zero-padded to a multiple of the block (9x9 -> four 5x5 pieces: 100 taps instead of 81, but
  XNNPACK runs a 5x5 kernel at several times the speed of its multipass 9x9 one, see
  docs/deployment.md, TFLite speed). XNNPACK only: LiteRT's builtin kernels run the direct 9x9 faster.
- ``transpose_phases``: a strided transposed convolution ("same" padding: the decoder's
  4x4/2 upsampling) becomes one small convolution per output phase (stride 2: four 2x2
  convolutions on windows of the zero-padded input, the taps each phase really uses) and a
  DEPTH_TO_SPACE that interleaves them; XNNPACK's TRANSPOSE_CONV ran at well under half the
  speed per MAC of its dense convolutions (docs/deployment.md, TFLite speed).
- ``fuse_elementwise``: ``1 - sigmoid(a)`` as ``sigmoid(-a)`` (MAU's ``1 - sigmoid(|z|)`` as
  ``sigmoid(min(z, -z))``: LiteRT's int8 ABS is 5x slower than NEG + MINIMUM under XNNPACK); SFU's
  ``lam * a + (1 - lam) * b`` as ``b + lam * (a - b)`` (3 ops instead of 5); ``|x|`` as one
  ABS op instead of ``relu(x) + relu(-x)`` (which tfmot's QAT needs, not the converters).

The per-format choice is :func:`export_rewrites`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops as kops

from danet_tf.layers.graph_ops import GraphOps


@dataclass(frozen=True)
class Rewrites:
    """Which rewrites a deployment graph uses.

    Args:
        depthwise_block: split depthwise kernels larger than this into pieces of this size
            (None: keep every depthwise convolution as it is).
        fuse_elementwise: the fused elementwise forms (sigmoid(-a), b + lam (a - b), ABS).
        transpose_phases: strided "same" transposed convolutions as per-phase convolutions
            and a depth-to-space.
    """

    depthwise_block: int | None = 5
    fuse_elementwise: bool = True
    transpose_phases: bool = True

    @property
    def any(self) -> bool:
        return self.depthwise_block is not None or self.fuse_elementwise or self.transpose_phases


NONE = Rewrites(depthwise_block=None, fuse_elementwise=False, transpose_phases=False)

# Per format and quantization mode (measured in docs/deployment.md, TFLite speed, LiteRT 2.3.0 XNNPACK
# and ONNX Runtime 1.32 on a Zen 1 CPU).
EXPORT_REWRITES: dict[str, Rewrites] = {
    "tflite": Rewrites(),
    "tflite-fp16": Rewrites(),
    "tflite-dynamic": Rewrites(),
    "tflite-int8": Rewrites(),
    # The depthwise convolutions stay float32 between dequantize/quantize ops: split, each
    # piece would get its own pair and the sums would requantize; keep them whole.
    "tflite-int8-float-dw": Rewrites(depthwise_block=None),
    "tflite-int8-float-ew": Rewrites(),
    "onnx": Rewrites(depthwise_block=None),
}


def export_rewrites(fmt: str, quantize: str = "none") -> Rewrites:
    """The rewrites an export of ``fmt`` (``tflite``/``onnx``) with ``quantize`` uses."""
    key = fmt if fmt != "tflite" or quantize == "none" else f"tflite-{quantize}"
    return EXPORT_REWRITES.get(key, NONE)


class DeployOps(GraphOps):
    """:class:`GraphOps` (Keras 3) with the export-time rewrites of ``rewrites``."""

    def __init__(self, rewrites: Rewrites = Rewrites(), prefix: str = "") -> None:
        super().__init__(keras, prefix)
        self.rewrites = rewrites

    def apply(self, layer: keras.layers.Layer, *args: Any) -> Any:
        block = self.rewrites.depthwise_block
        if (
            block is not None
            and isinstance(layer, keras.layers.DepthwiseConv2D)
            and splittable_depthwise(layer, block)
        ):
            return split_depthwise(layer, args[0], block, self._name)
        if (
            self.rewrites.transpose_phases
            and isinstance(layer, keras.layers.Conv2DTranspose)
            and phased_transpose(layer)
        ):
            return transpose_as_phases(layer, args[0], self._name)
        return super().apply(layer, *args)

    def sigmoid_complement(self, x, absolute: bool = False):
        if not self.rewrites.fuse_elementwise:
            return super().sigmoid_complement(x, absolute)
        if absolute:  # -|x| = min(x, -x): int8 ABS runs 5x slower than NEG + MINIMUM
            return self.sigmoid(kops.minimum(x, kops.negative(x)))
        return self.sigmoid(kops.negative(x))

    def blend(self, lam, a, b):
        if not self.rewrites.fuse_elementwise:
            return super().blend(lam, a, b)
        return self.add(b, self.multiply(lam, kops.subtract(a, b)))

    def abs(self, x):
        if not self.rewrites.fuse_elementwise:
            return super().abs(x)
        return kops.abs(x)


def splittable_depthwise(layer: keras.layers.Layer, block: int) -> bool:
    """Whether ``layer`` is a depthwise convolution :func:`split_depthwise` rewrites."""
    kh, kw = layer.kernel_size
    return (
        max(kh, kw) > block
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.padding in ("same", "valid")
        and layer.data_format == "channels_last"
    )


def split_depthwise(layer: keras.layers.Layer, x: Any, block: int, name: Any) -> Any:
    """``layer(x)`` as the sum of ``block`` x ``block`` depthwise convolutions.

    The kernel (zero-padded to a multiple of ``block``) is cut into tiles; tile (i, j) is a
    valid ``block`` x ``block`` convolution over the window of the padded input that starts
    at (i * block, j * block). The sum over the tiles is the original convolution; the bias
    (and activation) are applied once.
    """
    kh, kw = layer.kernel_size
    weights = layer.get_weights()
    kernel = np.asarray(weights[0])  # (kh, kw, C, multiplier)
    bias = weights[1] if layer.use_bias else None
    nh, nw = -(-kh // block), -(-kw // block)
    padded = np.zeros((nh * block, nw * block) + kernel.shape[2:], kernel.dtype)
    padded[:kh, :kw] = kernel
    height, width = int(x.shape[1]), int(x.shape[2])
    if layer.padding == "same":
        top, left = (kh - 1) // 2, (kw - 1) // 2
        bottom, right = kh - 1 - top, kw - 1 - left
    else:
        top = left = bottom = right = 0
    bottom += nh * block - kh
    right += nw * block - kw
    x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=name("dw_pad"))(x)
    hp, wp = height + top + bottom, width + left + right
    out_h, out_w = hp - nh * block + 1, wp - nw * block + 1
    win_h, win_w = out_h + block - 1, out_w + block - 1
    terms = []
    for i in range(nh):
        for j in range(nw):
            tile = padded[i * block:(i + 1) * block, j * block:(j + 1) * block]
            if not tile.any() and terms:
                continue
            crop = ((i * block, hp - i * block - win_h), (j * block, wp - j * block - win_w))
            window = keras.layers.Cropping2D(crop, name=name("dw_window"))(x)
            with_bias = bias is not None and not terms
            conv = keras.layers.DepthwiseConv2D(
                block, padding="valid", depth_multiplier=layer.depth_multiplier,
                use_bias=with_bias, name=name("dw_tile"),
            )  # fmt: skip
            terms.append(conv(window))
            conv.set_weights([tile, bias] if with_bias else [tile])
    out = terms[0] if len(terms) == 1 else keras.layers.Add(name=name("dw_sum"))(terms)
    activation = keras.activations.serialize(layer.activation)
    if activation not in ("linear", None) and activation != {"class_name": "linear"}:
        out = keras.layers.Activation(layer.activation, name=name("dw_act"))(out)
    return out


def phased_transpose(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` is a transposed convolution :func:`transpose_as_phases` rewrites."""
    return (
        layer.padding == "same"
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.data_format == "channels_last"
        and layer.strides[0] == layer.strides[1] > 1
        and getattr(layer, "output_padding", None) is None
        and all(k >= s for k, s in zip(layer.kernel_size, layer.strides, strict=True))
    )


def _phase_taps(kernel: int, stride: int) -> list[list[tuple[int, int]]]:
    """Per output phase r, the (input offset d, kernel tap t) pairs of a "same" transposed
    convolution: ``out[s*m + r] = sum x[m + d] * w[t]`` (TensorFlow's padding: the
    transpose of a "same" convolution, ``(k - s) // 2`` before)."""
    before = (kernel - stride) // 2
    phases = []
    for r in range(stride):
        taps = []
        for t in range(kernel):
            if (r + before - t) % stride == 0:
                taps.append(((r + before - t) // stride, t))
        phases.append(sorted(taps))
    return phases


class DepthToSpace(keras.layers.Layer):
    """``tf.nn.depth_to_space`` (one DEPTH_TO_SPACE op in TFLite, DepthToSpace in ONNX);
    deployment graphs only."""

    def __init__(self, block: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        import tensorflow as tf

        return tf.nn.depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        b = self.block
        return (shape[0], shape[1] * b, shape[2] * b, shape[3] // (b * b))

    def get_config(self):
        return {**super().get_config(), "block": self.block}


def transpose_as_phases(layer: keras.layers.Layer, x: Any, name: Any) -> Any:
    """``layer(x)`` (a strided "same" transposed convolution) as ``stride**2`` convolutions,
    one per output phase, each over the window of the zero-padded input it reads, with only
    the taps it uses; their outputs, concatenated, go through one depth-to-space."""
    stride = layer.strides[0]
    kernel = np.asarray(layer.get_weights()[0])  # (kh, kw, filters, in)
    bias = layer.get_weights()[1] if layer.use_bias else None
    rows, cols = (_phase_taps(k, stride) for k in layer.kernel_size)
    d_rows = [d for phase in rows for d, _ in phase]
    d_cols = [d for phase in cols for d, _ in phase]
    top, bottom = max(0, -min(d_rows)), max(0, max(d_rows))
    left, right = max(0, -min(d_cols)), max(0, max(d_cols))
    height, width = int(x.shape[1]), int(x.shape[2])
    padded = x
    if top or bottom or left or right:
        padded = keras.layers.ZeroPadding2D(((top, bottom), (left, right)),
                                            name=name("tc_pad"))(x)  # fmt: skip
    hp, wp = height + top + bottom, width + left + right
    outs = []
    for row_taps in rows:
        for col_taps in cols:
            r0, r1 = row_taps[0][0], row_taps[-1][0]
            c0, c1 = col_taps[0][0], col_taps[-1][0]
            kh, kw = r1 - r0 + 1, c1 - c0 + 1
            tile = np.zeros((kh, kw, kernel.shape[3], kernel.shape[2]), kernel.dtype)
            for d, t in row_taps:
                for e, u in col_taps:
                    tile[d - r0, e - c0] = kernel[t, u].T  # (in, filters)
            start_h, start_w = r0 + top, c0 + left
            crop = ((start_h, hp - start_h - (height + kh - 1)),
                    (start_w, wp - start_w - (width + kw - 1)))  # fmt: skip
            window = padded
            if any(v for pair in crop for v in pair):
                window = keras.layers.Cropping2D(crop, name=name("tc_window"))(padded)
            conv = keras.layers.Conv2D(layer.filters, (kh, kw), padding="valid",
                                       use_bias=bias is not None, name=name("tc_phase"))  # fmt: skip
            outs.append(conv(window))
            conv.set_weights([tile, bias] if bias is not None else [tile])
    merged = keras.layers.Concatenate(axis=-1, name=name("tc_phases"))(outs)
    out = DepthToSpace(stride, name=name("tc_interleave"))(merged)
    activation = keras.activations.serialize(layer.activation)
    if activation not in ("linear", None) and activation != {"class_name": "linear"}:
        out = keras.layers.Activation(layer.activation, name=name("tc_act"))(out)
    return out


def deployment_model(model: keras.Model, rewrites: Rewrites = Rewrites()) -> keras.Model:
    """``model`` rebuilt as a flat Keras 3 graph of standard layers with ``rewrites``.

    Weights are copied; the input and output names and structure are kept. With no rewrite
    to apply, ``model`` itself is returned.
    """
    if not rewrites.any:
        return model
    from danet_tf.models.flatten import rebuild

    return rebuild(model, DeployOps(rewrites), keras)
