"""One dense layer of an orthogonal attention block."""

from __future__ import annotations

import keras

from danet_tf.layers.channel_attention import ChannelAttention
from danet_tf.layers.graph_ops import ComposedLayer
from danet_tf.layers.mask_attention import MaskAttention
from danet_tf.layers.preact_conv import PreActConv
from danet_tf.layers.xunit import XUnit

CAU_POSITIONS = ("input", "both", "mask")
SPATIAL_MODES = ("orthogonal", "multiply", "residual", "xunit", "none")


@keras.saving.register_keras_serializable(package="danet_tf")
class DenseAttentionLayer(ComposedLayer):
    """A DenseNet layer gated by channel (CAU) and mask (MAU) attention.

    ``f`` -> [CAU] -> BN-ReLU-1x1 (``bottleneck``) -> BN-ReLU-3x3 (``growth_rate``) =
    ``g``; MAU (computed from ``f``) gates ``g``; the output is ``concat(f, g)``, so the
    block's width grows by ``growth_rate`` per layer.

    Table V's variants of Fig. 5 have "the same flops and number of parameters" as OAB,
    which holds only if CAU keeps reweighting the C input channels; what can move is which
    branch reads the reweighted input. ``cau_position`` is that reading (ours: the figure's
    text is not legible in the paper's text version).

    Args:
        growth_rate: channels each layer adds (32 in DANet).
        bottleneck: width of the 1x1 bottleneck (32 in DANet, ``4 * growth`` in DenseNet).
        use_cau: whether a channel attention unit is used.
        cau_position: which branch reads the CAU-gated input (paper Fig. 5 / Table V):
            ``"input"`` (the convolution branch; MAU reads the raw input: OAB, DANet and
            the authors' code), ``"both"`` (both branches: variant 1) or ``"mask"`` (only
            MAU: variant 2).
        cau_units: squeeze width of CAU (32).
        spatial: the spatial gate of the new features: ``"orthogonal"`` (MAU, x(1 - M)),
            ``"multiply"`` (x M), ``"residual"`` (x (1 + M)), ``"xunit"`` or ``"none"``.
        kernel_size: depthwise kernel size of MAU / xUnit (9).
        use_abs: MAU's ``|.|`` before the sigmoid (paper Eq. 1).
        use_bias: a bias on every convolution of the layer (the authors' code).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: tensor (N, H, W, C).

    Returns:
        Tensor (N, H, W, C + growth_rate).

    Reference:
        Luo et al., "Efficient Human Pose Estimation by Learning Deeply Aggregated
        Representations", ICME 2021, Sec. III-A, Fig. 4 and 5.
    """

    def __init__(
        self,
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
        if cau_position not in CAU_POSITIONS:
            raise ValueError(
                f"unknown cau_position {cau_position!r}; expected one of {CAU_POSITIONS}"
            )
        if spatial not in SPATIAL_MODES:
            raise ValueError(f"unknown spatial gate {spatial!r}; expected one of {SPATIAL_MODES}")
        if cau_position == "mask" and spatial not in ("orthogonal", "multiply", "residual"):
            raise ValueError(
                f"cau_position={cau_position!r} gates the mask branch, which "
                f"spatial={spatial!r} does not have"
            )
        self.growth_rate = int(growth_rate)
        self.bottleneck = int(bottleneck)
        self.use_cau = bool(use_cau)
        self.cau_position = cau_position
        self.cau_units = int(cau_units)
        self.spatial = spatial
        self.kernel_size = int(kernel_size)
        self.use_abs = bool(use_abs)
        self.use_bias = bool(use_bias)
        bias = self.use_bias
        self.reduce = PreActConv(self.bottleneck, 1, use_bias=bias, name="bottleneck")
        self.grow = PreActConv(self.growth_rate, 3, use_bias=bias, name="grow")
        self.cau = (
            ChannelAttention(self.cau_units, use_bias=bias, name="cau") if self.use_cau else None
        )
        if spatial in ("orthogonal", "multiply", "residual"):
            self.gate = MaskAttention(
                self.kernel_size, mode=spatial, use_abs=use_abs, use_bias=bias, name="mau"
            )
        elif spatial == "xunit":
            if bias:
                raise ValueError("use_bias=True is not implemented for spatial='xunit'")
            self.gate = XUnit(self.kernel_size, name="xunit")
        else:
            self.gate = None

    def build(self, input_shape):
        batch, height, width, channels = input_shape
        squeezed = (batch, height, width, self.bottleneck)
        new = (batch, height, width, self.growth_rate)
        if self.cau is not None:
            self.cau.build(input_shape)
        self.reduce.build(input_shape)
        self.grow.build(squeezed)
        if isinstance(self.gate, MaskAttention):
            self.gate.build((input_shape, new))
        elif self.gate is not None:
            self.gate.build(new)

    def _forward(self, f, ops):
        gated = f if self.cau is None else ops.apply(self.cau, f)
        conv_in = gated if self.cau_position in ("input", "both") else f
        mask_in = gated if self.cau_position in ("both", "mask") else f
        g = ops.apply(self.grow, ops.apply(self.reduce, conv_in))
        if isinstance(self.gate, MaskAttention):
            g = ops.apply(self.gate, mask_in, g)
        elif self.gate is not None:
            g = ops.apply(self.gate, g)
        return ops.concat([f, g])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (int(input_shape[-1]) + self.growth_rate,)

    def get_config(self):
        config = super().get_config()
        config.update(
            growth_rate=self.growth_rate,
            bottleneck=self.bottleneck,
            use_cau=self.use_cau,
            cau_position=self.cau_position,
            cau_units=self.cau_units,
            spatial=self.spatial,
            kernel_size=self.kernel_size,
            use_abs=self.use_abs,
            use_bias=self.use_bias,
        )
        return config
