"""Channel attention unit (CAU)."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer
from danet_tf.layers.preact_conv import PreActConv


@keras.saving.register_keras_serializable(package="danet_tf")
class ChannelAttention(ComposedLayer):
    """SE-like channel attention: reweights the channels of its input.

    Global average pool, BN-ReLU-1x1 (C to ``units``), BN-ReLU-1x1 (``units`` to C),
    sigmoid; the result multiplies the input channel-wise. In an orthogonal attention
    block it gates the dense layer's input before the 1x1 bottleneck (the authors'
    design; Table V of the paper compares the other positions).

    Args:
        units: width of the squeeze layer (32 in DANet).
        use_bias: biases on both 1x1 convolutions (the authors' code has them).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H, W, C): the input times the channel weights.

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Sec. III-A (CAU).
    """

    def __init__(self, units: int = 32, use_bias: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"units must be positive, got {units}")
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.squeeze = None
        self.excite = None

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.squeeze = PreActConv(self.units, 1, use_bias=self.use_bias, name="squeeze")
        self.excite = PreActConv(channels, 1, use_bias=self.use_bias, name="excite")
        pooled = (input_shape[0], 1, 1, channels)
        self.squeeze.build(pooled)
        self.excite.build((input_shape[0], 1, 1, self.units))

    def _forward(self, x, ops):
        weights = ops.apply(self.excite, ops.apply(self.squeeze, ops.global_pool(x)))
        return ops.multiply(x, ops.sigmoid(weights))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, use_bias=self.use_bias)
        return config
