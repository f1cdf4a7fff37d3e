"""Rewrite ``transpose_phases``: a strided "same" transposed convolution (the decoder's 4x4/2
upsampling) as one small convolution per output phase (stride 2: four 2x2 convolutions on
windows of the zero-padded input, only the taps each phase uses) and a DEPTH_TO_SPACE that
interleaves them; XNNPACK's TRANSPOSE_CONV ran at under half the speed per MAC of its dense
convolutions."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from danet_tf.export.rewrites.layers import DepthToSpace


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
