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
        filters: output channels.
        strides: stride of the first convolution (and of the projection).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H / strides, W / strides, filters).

    Reference:
        He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016; Luo et
        al., ICME 2021, Table VII (ResNet-18 single pyramid).
    """

    def __init__(self, filters: int, strides: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)
        self.conv1 = PreActConv(self.filters, 3, self.strides, name="conv1")
        self.conv2 = PreActConv(self.filters, 3, name="conv2")
        self.shortcut = None

    def build(self, input_shape):
        if int(input_shape[-1]) != self.filters or self.strides != 1:
            self.shortcut = PreActConv(self.filters, 1, self.strides, name="shortcut")
            self.shortcut.build(input_shape)
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))

    def _forward(self, x, ops):
        residual = ops.apply(self.conv2, ops.apply(self.conv1, x))
        skip = x if self.shortcut is None else ops.apply(self.shortcut, x)
        return ops.add(residual, skip)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
