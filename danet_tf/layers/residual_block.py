"""Pre-activation residual basic block (for the Table VII ResNet-18 pyramid)."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer
from danet_tf.layers.preact_conv import PreActConv


@keras.saving.register_keras_serializable(package="danet_tf")
class ResidualBlock(ComposedLayer):
    """Two BN-ReLU-3x3 convolutions plus a shortcut (1x1 projection when the shape
    changes), as in ResNet-18's basic block, in the pre-activation form used by the
    rest of DANet.

    Args:
        filters: width of the block (its output has ``filters * expansion`` channels).
        strides: stride of the 3x3 convolution (and of the projection).
        expansion: 1 for the basic block (two 3x3, ResNet-18/34) or 4 for the
            bottleneck block (1x1, 3x3, 1x1 to ``4 * filters``, ResNet-50).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H / strides, W / strides, filters * expansion).

    Reference:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016; Luo et
        al., ICME 2021, Table VII (ResNet-18 single pyramid).
    """

    def __init__(self, filters: int, strides: int = 1, expansion: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(expansion) not in (1, 4):
            raise ValueError(f"expansion must be 1 (basic) or 4 (bottleneck), got {expansion!r}")
        self.filters = int(filters)
        self.strides = int(strides)
        self.expansion = int(expansion)
        if self.expansion == 1:
            self.convs = [
                PreActConv(self.filters, 3, self.strides, name="conv1"),
                PreActConv(self.filters, 3, name="conv2"),
            ]
        else:
            self.convs = [
                PreActConv(self.filters, 1, name="conv1"),
                PreActConv(self.filters, 3, self.strides, name="conv2"),
                PreActConv(self.filters * 4, 1, name="conv3"),
            ]
        self.shortcut = None

    def build(self, input_shape):
        out = self.filters * self.expansion
        if int(input_shape[-1]) != out or self.strides != 1:
            self.shortcut = PreActConv(out, 1, self.strides, name="shortcut")
            self.shortcut.build(input_shape)
        shape = input_shape
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def _forward(self, x, ops):
        residual = x
        for conv in self.convs:
            residual = ops.apply(conv, residual)
        skip = x if self.shortcut is None else ops.apply(self.shortcut, x)
        return ops.add(residual, skip)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for conv in self.convs:
            shape = conv.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides, expansion=self.expansion)
        return config
