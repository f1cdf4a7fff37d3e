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
  ``sigmoid(min(z, -z))`` in float; the int8 graphs use another form, see ``integer_ops``); SFU's
  ``lam * a + (1 - lam) * b`` as ``b + lam * (a - b)`` (3 ops instead of 5); ``|x|`` as one
  ABS op instead of ``relu(x) + relu(-x)`` (which tfmot's QAT needs, not the converters).
- ``integer_ops`` (the int8 modes): ``-x`` as ``x * -1`` (TFLite's NEG has no int8 kernel),
  MAU's gate ``1 - sigmoid(|z|)`` as ``sigmoid(z - relu(2 z))`` (ops XNNPACK runs in int8,
  so the whole int8 graph is one XNNPACK partition), and the image stem (a strided convolution over at
  most 4 channels) as SPACE_TO_DEPTH and a stride-1 convolution.

The per-format choice is :func:`export_rewrites`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
        integer_ops: the forms that suit int8 (the int8 modes): ``-x`` as ``x * -1``, since
            TFLite's NEG has no int8 kernel and would run in float between a dequantize and
            a quantize op, and MAU's ``1 - sigmoid(|z|)`` as ``sigmoid(z - relu(2 z))``
            (XNNPACK has no int8 ABS, MINIMUM or standalone RELU; the RELU fuses into the
            MUL); and a strided convolution over at most 4 channels (the
            7x7/2 stem on the image) as a SPACE_TO_DEPTH and a stride-1 convolution over 4x
            the channels, which XNNPACK's int8 kernels run 1.6x faster.
    """

    depthwise_block: int | None = 5
    fuse_elementwise: bool = True
    transpose_phases: bool = True
    integer_ops: bool = False

    @property
    def any(self) -> bool:
        return (
            self.depthwise_block is not None
            or self.fuse_elementwise
            or self.transpose_phases
            or self.integer_ops
        )


NONE = Rewrites(depthwise_block=None, fuse_elementwise=False, transpose_phases=False)
INT8 = Rewrites(integer_ops=True)

# Per export mode (``api.mode_name``: the format and quantization mode), as measured in
# docs/deployment.md, TFLite speed (LiteRT 2.3.0 XNNPACK, ONNX Runtime 1.32, a Zen 3 CPU).
EXPORT_REWRITES: dict[str, Rewrites] = {
    "tflite": Rewrites(),
    "tflite-fp16": Rewrites(),
    "tflite-dynamic": Rewrites(),
    "tflite-int8": INT8,
    # The depthwise tiles stay float32 between dequantize/quantize ops (the mode's point);
    # split, they run at float32's speed, whole at half of it (docs/deployment.md).
    "tflite-int8-float-dw": INT8,
    "tflite-int8-float-ew": INT8,
    "onnx": Rewrites(depthwise_block=None),
    # Quantization-aware training (tf_keras, tfmot): only the depthwise tiles (DeployOps).
    "tflite-qat": Rewrites(fuse_elementwise=False, transpose_phases=False),
}
# Folding the pre-activation BatchNorms into the channel gates and the following 1x1
# convolutions was tried, exact, and removed: DANet-72 float32 TFLite and ONNX Runtime ran no
# faster with it, and int8 files agreed worse with float32 (docs/deployment.md, TFLite speed).


def export_rewrites(fmt: str, quantize: str = "none") -> Rewrites:
    """The rewrites an export of ``fmt`` (``tflite``/``onnx``) with ``quantize`` uses."""
    key = fmt if fmt != "tflite" or quantize == "none" else f"tflite-{quantize}"
    return EXPORT_REWRITES.get(key, NONE)


class DeployOps(GraphOps):
    """:class:`GraphOps` with the export-time rewrites of ``rewrites``.

    ``K`` is Keras 3, or ``tf_keras`` for quantization-aware training: tfmot trains through
    the depthwise tiles (standard ZeroPadding2D / Cropping2D / DepthwiseConv2D / Add layers)
    but not through the others, which build layers it does not know (DepthToSpace,
    per-channel constants) or ops its quantizers need in another form (``|x|``), so with
    ``tf_keras`` only ``depthwise_block`` may be set (``EXPORT_REWRITES["tflite-qat"]``).
    """

    def __init__(self, rewrites: Rewrites = Rewrites(), prefix: str = "", K: Any = keras) -> None:
        super().__init__(K, prefix)
        if K is not keras and replace(rewrites, depthwise_block=None).any:
            raise ValueError(f"with {K.__name__} only the depthwise tiles apply, got {rewrites}")
        self.rewrites = rewrites

    def apply(self, layer: keras.layers.Layer, *args: Any) -> Any:
        block = self.rewrites.depthwise_block
        if (
            block is not None
            and isinstance(layer, keras.layers.DepthwiseConv2D)
            and splittable_depthwise(layer, block)
        ):
            return split_depthwise(layer, args[0], block, self._name, self.K)
        if (
            self.rewrites.transpose_phases
            and isinstance(layer, keras.layers.Conv2DTranspose)
            and phased_transpose(layer)
        ):
            return transpose_as_phases(layer, args[0], self._name)
        if self.rewrites.integer_ops and type(layer) is keras.layers.Conv2D:
            out = strided_as_space_to_depth(layer, args[0], self._name)
            if out is not None:
                return out
        return super().apply(layer, *args)

    def sigmoid_complement(self, x, absolute: bool = False):
        if not self.rewrites.fuse_elementwise:
            return super().sigmoid_complement(x, absolute)
        if absolute and self.rewrites.integer_ops:
            # int8: GraphOps's sigmoid(x - relu(2x)), a MUL with a fused RELU and a SUB.
            # XNNPACK has no int8 ABS, MINIMUM, MAXIMUM or standalone RELU: each of those
            # splits the graph into separately delegated pieces with a slow builtin op
            # between them, and the MINIMUM / MAXIMUM forms (min(x, -x)) also cost keypoint
            # agreement: the quantizer gives their operands the result's range, which
            # clamps half of x (docs/deployment.md, TFLite speed).
            return super().sigmoid_complement(x, absolute)
        if absolute:  # -|x| = min(x, -x): NEG + MINIMUM, cheaper than ABS
            return self.sigmoid(kops.minimum(x, self._negative(x)))
        return self.sigmoid(self._negative(x))

    def _negative(self, x):
        return kops.multiply(x, -1.0) if self.rewrites.integer_ops else kops.negative(x)

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


def _tile_axis(size: int, k: int, before: int, out: int, block: int) -> list[tuple]:
    """One axis of :func:`split_depthwise`: per tile, ``(first, owned, crop, pad)``.

    Kernel tap ``t`` reads ``x[r - before + t]`` for output ``r`` in ``[0, out)``. A tile is
    ``block`` taps starting at ``first`` (the last tile ends at the last tap, so for a 9x9
    kernel and 5x5 tiles the two tiles start at taps 0 and 4); it owns the taps in ``owned``
    (taps two tiles cover belong to the earlier). Its valid convolution reads ``x`` rows
    ``[first - before, first - before + out + block - 2]``: ``crop`` and ``pad`` (before,
    after) cut and zero-extend ``x`` to exactly that window.
    """
    count = -(-k // block)
    tiles = []
    for i in range(count):
        first = i * block if i < count - 1 else k - block
        owned = range(i * block, min((i + 1) * block, k))
        start = first - before
        end = start + out + block - 2
        crop = (max(0, start), max(0, size - 1 - end))
        pad = (max(0, -start), max(0, end - (size - 1)))
        tiles.append((first, owned, crop, pad))
    return tiles


def split_depthwise(
    layer: keras.layers.Layer, x: Any, block: int, name: Any, K: Any = keras
) -> Any:
    """``layer(x)`` as the sum of ``block`` x ``block`` depthwise convolutions, built from
    standard layers of module ``K`` (``keras``, or ``tf_keras`` for QAT).

    The kernel is cut into tiles (:func:`_tile_axis`); each is a valid ``block`` x ``block``
    convolution over the window of ``x`` its taps read. The sum over the tiles is the
    original convolution; the bias (and activation) are applied once. Where every window is
    ``x`` zero-padded (a 9x9 "same" kernel in 5x5 tiles: the tiles start at offsets -4 and 0),
    each tile reads its own ZeroPadding2D of ``x``; otherwise all of them crop one shared
    padding of ``x``.
    """
    kh, kw = layer.kernel_size
    weights = layer.get_weights()
    kernel = np.asarray(weights[0])  # (kh, kw, C, multiplier)
    bias = weights[1] if layer.use_bias else None
    height, width = int(x.shape[1]), int(x.shape[2])
    same = layer.padding == "same"
    rows = _tile_axis(height, kh, (kh - 1) // 2 if same else 0, height if same else height - kh + 1,
                      block)  # fmt: skip
    cols = _tile_axis(width, kw, (kw - 1) // 2 if same else 0, width if same else width - kw + 1,
                      block)  # fmt: skip
    per_tile = all(not any(crop) for _, _, crop, _ in rows + cols)
    shared = None
    if not per_tile:  # one padding of x that contains every window; tiles crop it
        top, bottom = max(t[3][0] for t in rows), max(t[3][1] for t in rows)
        left, right = max(t[3][0] for t in cols), max(t[3][1] for t in cols)
        shared = K.layers.ZeroPadding2D(((top, bottom), (left, right)), name=name("dw_pad"))(x)
    terms = []
    for r_first, r_owned, r_crop, r_pad in rows:
        for c_first, c_owned, c_crop, c_pad in cols:
            tile = np.zeros((block, block) + kernel.shape[2:], kernel.dtype)
            rs, cs = list(r_owned), list(c_owned)
            tile[rs[0] - r_first:rs[-1] - r_first + 1, cs[0] - c_first:cs[-1] - c_first + 1] = (
                kernel[rs[0]:rs[-1] + 1, cs[0]:cs[-1] + 1])  # fmt: skip
            if not tile.any() and terms:
                continue
            if per_tile:
                window = x
                if any(r_pad) or any(c_pad):
                    window = K.layers.ZeroPadding2D((r_pad, c_pad), name=name("dw_window"))(x)
            else:  # the window inside the shared padding
                crop = tuple(
                    (lo + big - p_lo, hi + big_hi - p_hi)
                    for (lo, hi), (p_lo, p_hi), big, big_hi in (
                        (r_crop, r_pad, top, bottom), (c_crop, c_pad, left, right))
                )  # fmt: skip
                window = K.layers.Cropping2D(crop, name=name("dw_window"))(shared)
            with_bias = bias is not None and not terms
            conv = K.layers.DepthwiseConv2D(
                block, padding="valid", depth_multiplier=layer.depth_multiplier,
                use_bias=with_bias, name=name("dw_tile"),
            )  # fmt: skip
            terms.append(conv(window))
            conv.set_weights([tile, bias] if with_bias else [tile])
    out = terms[0] if len(terms) == 1 else K.layers.Add(name=name("dw_sum"))(terms)
    activation = keras.activations.serialize(layer.activation)
    if activation not in ("linear", None) and activation != {"class_name": "linear"}:
        kind = activation if isinstance(activation, str) else layer.activation
        out = K.layers.Activation(kind, name=name("dw_act"))(out)
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


class SpaceToDepth(DepthToSpace):
    """``tf.nn.space_to_depth`` (one SPACE_TO_DEPTH op in TFLite); deployment graphs only."""

    def call(self, x):
        import tensorflow as tf

        return tf.nn.space_to_depth(x, self.block)

    def compute_output_shape(self, shape):
        b = self.block
        return (shape[0], shape[1] // b, shape[2] // b, shape[3] * b * b)


def strided_as_space_to_depth(
    layer: keras.layers.Conv2D, x: Any, name: Any, max_channels: int = 4
) -> Any:
    """``layer(x)`` (a stride-s convolution over at most ``max_channels`` channels) as a
    zero padding, a SPACE_TO_DEPTH by s and a stride-1 convolution with a ``ceil(k / s)``
    kernel over ``s * s`` times the channels, or None where it does not apply. Where the
    padding is the whole blocks of ``s`` that a "same" stride-1 convolution adds, that
    convolution does it after the SPACE_TO_DEPTH.

    With the kernel zero-padded to ``K = s * ceil(k / s)`` taps and ``y`` the input padded by
    the convolution's own "before" padding, ``out[i] = sum_t y[s i + t] w[t]``; writing
    ``t = s m + r`` gives ``sum_m z[i + m, r] w[s m + r]`` with ``z = space_to_depth(y)``.
    """
    strides, kernel_size = tuple(layer.strides), tuple(layer.kernel_size)
    height, width, channels = (int(v) for v in x.shape[1:])
    s = strides[0]
    if not (
        strides == (s, s) and s > 1 and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1 and layer.data_format == "channels_last"
        and channels <= max_channels and layer.padding in ("same", "valid")
    ):  # fmt: skip
        return None
    pads, taps = [], []
    for size, k in zip((height, width), kernel_size, strict=True):
        if layer.padding == "same":
            out = -(-size // s)
            before = max((out - 1) * s + k - size, 0) // 2
        else:
            out, before = (size - k) // s + 1, 0
        padded_k = -(-k // s) * s
        after = s * out + padded_k - s - size - before
        if after < 0:
            return None
        pads.append((before, after))
        taps.append(padded_k)
    weights = layer.get_weights()
    kh, kw = taps[0] // s, taps[1] // s
    kernel = np.zeros((taps[0], taps[1]) + weights[0].shape[2:], weights[0].dtype)
    kernel[: kernel_size[0], : kernel_size[1]] = weights[0]
    # SPACE_TO_DEPTH's channel order: (r * s + q) * C + c for the offset (r, q) in the block.
    shuffled = kernel.reshape(kh, s, kw, s, channels, -1).transpose(0, 2, 1, 3, 4, 5)
    shuffled = shuffled.reshape(kh, kw, s * s * channels, -1)
    config = layer.get_config()
    config.update(name=name("s2d_conv"), kernel_size=(kh, kw), strides=(1, 1), padding="valid")
    # Where the padding is whole blocks that "same" at stride 1 would add ((k - 1) // 2
    # before, the rest after), the convolution pads the SPACE_TO_DEPTH map itself. DANet's
    # 7x7/2 stem on 256x192 is that case, which spares an int8 PAD of the image (1.1 ms).
    same = [(s * ((k - 1) // 2), s * (k - 1 - (k - 1) // 2)) for k in (kh, kw)]
    if height % s == 0 and width % s == 0 and pads == same:
        config["padding"] = "same"
    elif any(p for pair in pads for p in pair):
        x = keras.layers.ZeroPadding2D(tuple(pads), name=name("s2d_pad"))(x)
    z = SpaceToDepth(s, name=name("s2d"))(x)
    conv = keras.layers.Conv2D.from_config(config)
    out = conv(z)
    conv.set_weights([shuffled] + weights[1:])
    return out


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
