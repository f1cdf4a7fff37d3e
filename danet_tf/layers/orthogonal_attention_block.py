"""Orthogonal attention block (OAB): a dense block of attention-gated layers."""

from __future__ import annotations

import keras

from danet_tf.layers.dense_attention_layer import DenseAttentionLayer
from danet_tf.layers.graph_ops import ComposedLayer


@keras.saving.register_keras_serializable(package="danet_tf")
class OrthogonalAttentionBlock(ComposedLayer):
    """``num_layers`` :class:`DenseAttentionLayer` s, densely connected.

    Each layer sees the concatenation of the block input and every earlier layer's
    new features; MAU makes each layer's contribution differ from what it sees, so
    the block aggregates features of many receptive-field sizes.

    Args:
        num_layers: number of dense layers.
        growth_rate, bottleneck, use_cau, cau_position, cau_units, spatial,
        kernel_size, use_abs, use_bias: passed to every :class:`DenseAttentionLayer`.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H, W, C + num_layers * growth_rate).

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Sec. III-A and Fig. 4.
    """

    def __init__(
        self,
        num_layers: int,
        growth_rate: int = 32,
        bottleneck: int = 32,
        use_cau: bool = True,
        cau_position: str = "input",
        cau_units: int = 32,
        spatial: str = "orthogonal",
        kernel_size: int = 9,
        use_abs: bool = True,
        use_bias: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if int(num_layers) <= 0:
            raise ValueError(f"num_layers must be positive, got {num_layers}")
        self.num_layers = int(num_layers)
        self.layer_config = dict(
            growth_rate=int(growth_rate),
            bottleneck=int(bottleneck),
            use_cau=bool(use_cau),
            cau_position=cau_position,
            cau_units=int(cau_units),
            spatial=spatial,
            kernel_size=int(kernel_size),
            use_abs=bool(use_abs),
            use_bias=bool(use_bias),
        )
        self.dense_layers = [
            DenseAttentionLayer(**self.layer_config, name=f"layer{i + 1}")
            for i in range(self.num_layers)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def _forward(self, x, ops):
        for layer in self.dense_layers:
            x = ops.apply(layer, x)
        return x

    def compute_output_shape(self, input_shape):
        growth = self.layer_config["growth_rate"] * self.num_layers
        return tuple(input_shape[:-1]) + (int(input_shape[-1]) + growth,)

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, **self.layer_config)
        return config
