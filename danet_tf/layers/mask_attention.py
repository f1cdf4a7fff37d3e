"""Mask attention unit (MAU) and its ablation variants."""

from __future__ import annotations

import keras

from danet_tf.layers.graph_ops import ComposedLayer
from danet_tf.layers.preact_conv import PreActConv

MODES = ("orthogonal", "multiply", "residual")


@keras.saving.register_keras_serializable(package="danet_tf")
class MaskAttention(ComposedLayer):
    """Gates a dense layer's new features with a spatial mask of its input.

    ``M = sigmoid(|psi(f)|)`` where ``psi`` is BN-ReLU-1x1 (C to the new features'
    width) then BN-ReLU-depthwise ``kernel_size`` x ``kernel_size``, computed from the
    layer's input ``f``. The new features ``g`` become ``g * (1 - M)`` (paper Eq. 1,
    ``mode="orthogonal"``): what the input already expresses strongly is suppressed,
    so each layer adds something different. Table VI's variants are ``"multiply"``
    (``g * M``) and ``"residual"`` (``g * (1 + M)``).

    Args:
        kernel_size: depthwise kernel size (9 in DANet).
        mode: ``"orthogonal"``, ``"multiply"`` or ``"residual"``.
        use_abs: apply ``|.|`` before the sigmoid as in Eq. 1 (the authors' code did
            not; with it, ``M`` lies in [0.5, 1)).
        use_bias: biases on both convolutions (the authors' code has them).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: list ``[f, g]``: the layer input (N, H, W, C) and the new features
            (N, H, W, G).

    Returns:
        Tensor (N, H, W, G): the gated new features.

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Sec. III-A (MAU), Eq. 1 and Table VI.
    """

    def __init__(
        self,
        kernel_size: int = 9,
        mode: str = "orthogonal",
        use_abs: bool = True,
        use_bias: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown mask attention mode {mode!r}; expected one of {MODES}")
        self.kernel_size = int(kernel_size)
        self.mode = mode
        self.use_abs = bool(use_abs)
        self.use_bias = bool(use_bias)
        self.project = None
        self.spatial = None

    def build(self, input_shape):
        f_shape, g_shape = input_shape
        width = int(g_shape[-1])
        self.project = PreActConv(width, 1, use_bias=self.use_bias, name="project")
        self.spatial = PreActConv(
            width, self.kernel_size, kind="depthwise", use_bias=self.use_bias, name="spatial"
        )
        self.project.build(f_shape)
        self.spatial.build(tuple(f_shape[:-1]) + (width,))

    def _forward(self, inputs, ops):
        f, g = inputs
        logits = ops.apply(self.spatial, ops.apply(self.project, f))
        if self.mode == "orthogonal":  # 1 - M, in fewer ops where the ops have a way
            return ops.multiply(g, ops.sigmoid_complement(logits, absolute=self.use_abs))
        mask = ops.sigmoid(ops.abs(logits) if self.use_abs else logits)
        if self.mode == "multiply":
            return ops.multiply(g, mask)
        return ops.multiply(g, ops.one_plus(mask))

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size, mode=self.mode, use_abs=self.use_abs,
            use_bias=self.use_bias,
        )  # fmt: skip
        return config
