"""Rewrite ``depthwise_block``: a large depthwise convolution (MAU's and SFU's 9x9) as the sum
of small depthwise convolutions on shifted windows of the zero-padded input (the kernel
zero-padded to a multiple of the block: 9x9 -> four 5x5 pieces, 100 taps instead of 81, which
XNNPACK runs several times faster than its multipass 9x9 kernel)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


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
