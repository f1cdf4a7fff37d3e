"""Pre-activation convolution unit: BatchNorm, ReLU, then a convolution."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer

KINDS = ("conv", "depthwise", "transpose")
PADDINGS = ("same", "symmetric")


@keras.saving.register_keras_serializable(package="danet_tf")
class PreActConv(ComposedLayer):
    """BN -> ReLU -> convolution, the unit every DANet block is made of.

    The authors' implementation is pre-activation throughout (paper Fig. 4): each
    convolution reads normalized, rectified features, so blocks can be concatenated
    (dense connectivity) without an activation in between.

    Args:
        filters: output channels (ignored for ``kind="depthwise"``, which keeps them).
        kernel_size: square kernel size.
        strides: convolution stride.
        kind: ``"conv"``, ``"depthwise"`` or ``"transpose"`` (transposed convolution).
        use_bias: whether the convolution has a bias (heads always; every convolution
            in the authors' code).
        padding: ``"same"`` (TensorFlow's, which pads one pixel more at the bottom and
            right when ``kernel_size - strides`` is odd) or ``"symmetric"`` (PyTorch /
            MegEngine style, ``kernel_size // 2`` on every side, which the authors'
            weights need). The two differ only for such strided convolutions; there the
            symmetric padding is an explicit zero padding after the ReLU, which is
            what the convolution's own padding would add.
        init_std: if set, the kernel starts from a normal distribution with this
            standard deviation instead of He-normal. Heatmap heads use 0.001 (as HRNet
            does) so an untrained model predicts near-zero heatmaps instead of large
            noise that the masked MSE must first unlearn.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H', W', filters).

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Fig. 4.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 1,
        strides: int = 1,
        kind: str = "conv",
        use_bias: bool = False,
        init_std: float | None = None,
        padding: str = "same",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"unknown conv kind {kind!r}; expected one of {KINDS}")
        if padding not in PADDINGS:
            raise ValueError(f"unknown padding {padding!r}; expected one of {PADDINGS}")
        if int(filters) <= 0 or int(kernel_size) <= 0 or int(strides) <= 0:
            raise ValueError(
                f"filters, kernel_size and strides must be positive, got "
                f"{filters}, {kernel_size}, {strides}"
            )
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.kind = kind
        self.use_bias = bool(use_bias)
        self.init_std = None if init_std is None else float(init_std)
        self.padding = padding
        asymmetric = (self.kernel_size - self.strides) % 2 == 1
        if padding == "symmetric" and asymmetric and kind == "transpose":
            raise ValueError(
                f"a {self.kernel_size}x{self.kernel_size}/{self.strides} transposed "
                "convolution has no symmetric 'same' padding"
            )
        explicit = padding == "symmetric" and asymmetric
        self.pad = keras.layers.ZeroPadding2D(self.kernel_size // 2, name="pad") if explicit else None
        init = (
            "he_normal"
            if self.init_std is None
            else keras.initializers.RandomNormal(stddev=self.init_std)
        )
        self.norm = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn")
        self.act = keras.layers.ReLU(name="relu")
        common = dict(
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding="valid" if explicit else "same",
            use_bias=self.use_bias,
            name=kind,
        )
        if kind == "conv":
            self.conv = keras.layers.Conv2D(
                self.filters, kernel_initializer=init, **common
            )
        elif kind == "depthwise":
            self.conv = keras.layers.DepthwiseConv2D(
                depthwise_initializer=init, **common
            )
        else:
            self.conv = keras.layers.Conv2DTranspose(
                self.filters, kernel_initializer=init, **common
            )

    def build(self, input_shape):
        self.norm.build(input_shape)
        self.act.build(input_shape)
        if self.pad is not None:
            self.pad.build(input_shape)
        self.conv.build(self._padded(input_shape))

    def _padded(self, input_shape):
        return input_shape if self.pad is None else self.pad.compute_output_shape(input_shape)

    def _forward(self, x, ops):
        x = ops.apply(self.act, ops.apply(self.norm, x))
        if self.pad is not None:
            x = ops.apply(self.pad, x)
        return ops.apply(self.conv, x)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(self._padded(input_shape))

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            kind=self.kind,
            use_bias=self.use_bias,
            init_std=self.init_std,
            padding=self.padding,
        )
        return config
