"""Rewrite of ``integer_ops`` for the image stem: a strided convolution over at most 4
channels (DANet's 7x7/2 stem) as SPACE_TO_DEPTH and a stride-1 convolution over 4x the
channels, which XNNPACK's int8 kernels run 1.6x faster."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from danet_tf.export.rewrites.layers import SpaceToDepth


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
