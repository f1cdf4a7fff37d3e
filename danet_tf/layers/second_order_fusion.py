"""Second-order fusion unit (SFU)."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer
from danet_tf.layers.preact_conv import PreActConv


@keras.saving.register_keras_serializable(package="danet_tf")
class SecondOrderFusion(ComposedLayer):
    """Fuses a lateral feature with the upsampled coarser one, pixel by pixel.

    ``lambda = sigmoid(theta(concat(f_td, f_bu)))`` with ``theta`` = BN-ReLU-1x1
    (2C to C) then BN-ReLU-depthwise ``kernel_size`` x ``kernel_size``;
    ``out = lambda * f_td + (1 - lambda) * f_bu``. The gate depends on both inputs, so
    the fusion is second order (a product of features) rather than a sum.

    Args:
        kernel_size: depthwise kernel size of ``theta`` (9).
        use_bias: biases on both convolutions of ``theta`` (the authors' code has them).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: list ``[f_td, f_bu]`` of two tensors (N, H, W, C): the lateral
            (top-down path) feature and the upsampled coarser (bottom-up path) one.

    Returns:
        Tensor (N, H, W, C).

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Sec. III-B (SFU).
    """

    def __init__(self, kernel_size: int = 9, use_bias: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel_size = int(kernel_size)
        self.use_bias = bool(use_bias)
        self.project = None
        self.spatial = None

    def build(self, input_shape):
        td_shape, bu_shape = input_shape
        if int(td_shape[-1]) != int(bu_shape[-1]):
            raise ValueError(
                f"SFU inputs need equal channels, got {td_shape[-1]} and {bu_shape[-1]}"
            )
        channels = int(td_shape[-1])
        self.project = PreActConv(channels, 1, use_bias=self.use_bias, name="project")
        self.spatial = PreActConv(
            channels, self.kernel_size, kind="depthwise", use_bias=self.use_bias, name="spatial"
        )
        self.project.build(tuple(td_shape[:-1]) + (2 * channels,))
        self.spatial.build(td_shape)

    def _forward(self, inputs, ops):
        f_td, f_bu = inputs
        lam = ops.sigmoid(
            ops.apply(self.spatial, ops.apply(self.project, ops.concat([f_td, f_bu])))
        )
        return ops.blend(lam, f_td, f_bu)  # lam * f_td + (1 - lam) * f_bu

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, use_bias=self.use_bias)
        return config
