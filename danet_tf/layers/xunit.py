"""xUnit spatial attention, the Table VI alternative to MAU."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer


@keras.saving.register_keras_serializable(package="danet_tf")
class XUnit(ComposedLayer):
    """xUnit: ``g * exp(-BN(dwconv(relu(g)))^2)``, a learnable spatial gate.

    Used in the paper's Table VI in place of MAU, gating the new features of each
    dense layer by a map computed from those features themselves.

    Args:
        kernel_size: depthwise kernel size (9, like MAU, for a fair comparison).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H, W, C).

    Reference:
        Kligvasser et al., "xUnit: Learning a Spatial Activation Function for
        Efficient Image Restoration", CVPR 2018; Luo et al., ICME 2021, Table VI.
    """

    def __init__(self, kernel_size: int = 9, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.act = keras.layers.ReLU(name="relu")
        self.conv = keras.layers.DepthwiseConv2D(
            self.kernel_size, padding="same", use_bias=False, name="depthwise"
        )
        self.norm = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")

    def build(self, input_shape):
        self.act.build(input_shape)
        self.conv.build(input_shape)
        self.norm.build(input_shape)

    def _forward(self, x, ops):
        z = ops.apply(self.norm, ops.apply(self.conv, ops.apply(self.act, x)))
        return ops.multiply(x, ops.gaussian(z))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size)
        return config
