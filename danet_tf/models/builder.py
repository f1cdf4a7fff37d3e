"""One builder for every row of :mod:`danet_tf.models.specs`."""

from __future__ import annotations

import keras
import numpy as np

from danet_edge.codec import heatmap as codec_defaults
from danet_tf.layers import (
    OrthogonalAttentionBlock,
    PreActConv,
    ResidualBlock,
    SecondOrderFusion,
)
from danet_tf.models.specs import ModelSpec

# Supervised pyramid levels, coarse to fine; "heatmaps" is the finest (stride 4) and
# the only one an inference model keeps.
LEVELS = ("heatmaps_s32", "heatmaps_s16", "heatmaps_s8", "heatmaps")
# Each level's training target sigma is a codec setting (danet_edge.codec), re-exported here.
DEFAULT_LEVEL_SIGMAS = codec_defaults.DEFAULT_LEVEL_SIGMAS


def input_normalization(model: keras.Model) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The per-channel (mean, std) a DANet model subtracts and divides by, RGB order.

    Read from the model's ``normalize`` layer, so it is what the graph computes (a model
    converted from the authors' weights has its own values, see ``ModelSpec.input_mean``).
    """
    try:
        layer = model.get_layer("normalize")
    except ValueError:
        raise ValueError(
            f"model {model.name!r} has no 'normalize' layer: not a danet_tf model"
        ) from None
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    std = np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1))
    return tuple(float(v) for v in mean), tuple(round(float(v), 6) for v in std)


def _check_input_shape(input_shape: tuple[int, int, int], spec: ModelSpec) -> tuple[int, int, int]:
    if len(input_shape) != 3 or int(input_shape[-1]) != 3:
        raise ValueError(f"input_shape must be (H, W, 3), got {tuple(input_shape)!r}")
    height, width = int(input_shape[0]), int(input_shape[1])
    stride = 2 ** (len(spec.blocks) + 1)
    if height <= 0 or width <= 0 or height % stride or width % stride:
        raise ValueError(
            f"input height and width must be positive multiples of {stride}, got {height}x{width}"
        )
    return height, width, 3


def _conv(spec: ModelSpec, filters: int, kernel: int, strides: int = 1, **kwargs) -> PreActConv:
    return PreActConv(
        filters, kernel, strides, use_bias=spec.conv_bias, padding=spec.padding, **kwargs
    )


def _stem(x, spec: ModelSpec):
    # 7x7/2 and 3x3/2 pad asymmetrically under "same"; "symmetric" pads explicitly. A zero
    # border before the max pool is exact: it follows a ReLU, so zeros never win a max.
    symmetric = spec.padding == "symmetric"
    if symmetric:
        x = keras.layers.ZeroPadding2D(3, name="stem_pad")(x)
    x = keras.layers.Conv2D(
        spec.stem_channels, 7, strides=2, padding="valid" if symmetric else "same",
        use_bias=spec.conv_bias, kernel_initializer="he_normal", name="stem_conv1",
    )(x)  # fmt: skip
    if spec.stem == "conv":
        return _conv(spec, spec.stem_channels, 3, 2, name="stem_conv2")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    if symmetric:
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return keras.layers.MaxPooling2D(
        3, strides=2, padding="valid" if symmetric else "same", name="stem_pool"
    )(x)


def _stage(x, spec: ModelSpec, index: int):
    name = f"stage{index + 1}"
    if spec.backbone == "resnet":
        for b in range(spec.blocks[index]):
            strides = 2 if (b == 0 and index > 0) else 1
            x = ResidualBlock(
                spec.widths[index], strides, spec.residual_expansion, name=f"{name}_block{b + 1}"
            )(x)
        return x
    x = OrthogonalAttentionBlock(
        spec.blocks[index],
        growth_rate=spec.growth_rate,
        bottleneck=spec.bottleneck,
        use_cau=spec.use_cau,
        cau_position=spec.cau_position,
        cau_units=spec.cau_units,
        spatial=spec.spatial,
        kernel_size=spec.attention_kernel,
        use_abs=spec.use_abs,
        use_bias=spec.conv_bias,
        name=f"{name}_oab",
    )(x)
    if spec.widths[index]:
        x = _conv(spec, spec.widths[index], 1, name=f"{name}_transition")(x)
    return x


def _downsample(x, spec: ModelSpec, index: int):
    name = f"pool{index + 1}"
    if spec.downsample == "maxpool":
        return keras.layers.MaxPooling2D(spec.pool_size, strides=2, padding="same", name=name)(x)
    if spec.downsample == "avgpool":
        return keras.layers.AveragePooling2D(2, strides=2, name=name)(x)
    return x  # "stride": the next residual stage strides itself


def _backbone(image, spec: ModelSpec) -> list:
    """Normalized image -> the pyramid features, fine to coarse."""
    x = _stem(image, spec)
    features = []
    for index in range(len(spec.blocks)):
        if index:
            x = _downsample(x, spec, index)
        x = _stage(x, spec, index)
        features.append(x)
    return features


def _head(x, spec: ModelSpec, num_keypoints: int, level: str):
    x = _conv(spec, spec.decoder_channels, 1, name=f"{level}_head1")(x)
    return PreActConv(num_keypoints, 3, use_bias=True, init_std=1e-3, name=f"{level}_head2")(x)


def _decoder(features: list, spec: ModelSpec, num_keypoints: int, multi_scale: bool) -> dict:
    """The bottom-up path: coarse to fine, fusing each level with the one above."""
    levels = LEVELS[-len(features):]
    x = None
    outputs = {}
    for feature, level in zip(reversed(features), levels, strict=True):
        lateral = _conv(spec, spec.decoder_channels, 1, name=f"{level}_lateral")(feature)
        if x is None:
            x = lateral
        else:
            up = _conv(
                spec, spec.decoder_channels, 4, 2, kind="transpose", name=f"{level}_upsample"
            )(x)
            if spec.fusion == "sfu":
                x = SecondOrderFusion(
                    spec.attention_kernel, use_bias=spec.conv_bias, name=f"{level}_sfu"
                )([lateral, up])
            else:
                x = keras.layers.Add(name=f"{level}_sum")([lateral, up])
        if multi_scale or level == LEVELS[-1]:
            outputs[level] = _head(x, spec, num_keypoints, level)
    return outputs


def build_from_spec(
    spec: ModelSpec,
    *,
    input_shape: tuple[int, int, int],
    num_keypoints: int = 17,
    multi_scale: bool = False,
    name: str = "danet",
) -> keras.Model:
    """Build the Keras model a spec describes (see :func:`danet_tf.build_model`)."""
    spec.validate()
    if int(num_keypoints) <= 0:
        raise ValueError(f"num_keypoints must be positive, got {num_keypoints!r}")
    height, width, _ = _check_input_shape(input_shape, spec)
    image = keras.Input((height, width, 3), name="image", dtype="float32")
    x = keras.layers.Normalization(
        mean=list(spec.input_mean), variance=list(np.square(spec.input_std)), name="normalize"
    )(image)
    features = _backbone(x, spec)
    if spec.task == "classification":
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="final_bn")(
            features[-1]
        )
        x = keras.layers.ReLU(name="final_relu")(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        logits = keras.layers.Dense(spec.num_classes, name="classifier")(x)
        probs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
        return keras.Model(image, probs, name=name)
    heads = _decoder(features, spec, int(num_keypoints), multi_scale)
    size = (height // codec_defaults.DEFAULT_STRIDE, width // codec_defaults.DEFAULT_STRIDE)
    outputs = {}
    for level, heatmap in heads.items():
        if heatmap.shape[1] != size[0]:
            # UpSampling2D, not Resizing: Keras 3's image preprocessing layers default
            # to training=True and leak it into the call context, which switched the
            # next BatchNormalization to training mode in eager calls.
            factor = size[0] // heatmap.shape[1]
            heatmap = keras.layers.UpSampling2D(
                factor, interpolation="bilinear", name=f"{level}_up"
            )(heatmap)
        # float32 outputs under mixed precision: the loss and decoding need them.
        outputs[level] = keras.layers.Activation("linear", dtype="float32", name=level)(heatmap)
    if not multi_scale:
        return keras.Model(image, outputs[LEVELS[-1]], name=name)
    return keras.Model(image, outputs, name=name)
