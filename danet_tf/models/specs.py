"""The model table: every DANet variant and ablation is a row here.

A row is a :class:`ModelSpec` of plain values; one builder
(:func:`danet_tf.models.builder.build_from_spec`) reads them all. Adding a variant
means adding a row, and the parametrized tests pick it up with no new test code.

Every row the paper has numbers for carries them (:class:`PaperNumbers`: table, row
label, Params, GFLOPs, AP). Where the paper is silent, rows follow the authors' MegEngine
implementation; the
``*_authors`` rows are that implementation exactly, for their published weights
(:mod:`danet_tf.convert`). The ablations of Tables IV-VII are built on DANet-102.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from danet_edge.choices import DEFAULT_INPUT_SIZE


@dataclass(frozen=True)
class PaperNumbers:
    """What the paper reports for a row: where (table and row label), complexity, accuracy.

    ``gmacs`` is the paper's "GFLOPs" column (multiply-adds, as the field counts them).
    """

    params_m: float
    gmacs: float
    ap: float | None = None
    table: str = ""
    row: str = ""
    source: str = "DANet paper (Luo et al., ICME 2021)"


@dataclass(frozen=True)
class ModelSpec:
    """Architecture of one registered model; every field is a plain value.

    Args:
        backbone: ``"oab"`` (dense blocks of orthogonal attention layers) or
            ``"resnet"`` (pre-activation basic blocks, Table VII).
        task: ``"pose"`` (heatmap regression) or ``"classification"`` (Table X).
        blocks: layers (OAB) or residual blocks per stage.
        widths: transition width per stage (the pyramid's channels); ``0`` means no
            transition (the last stage of a classifier).
        stem: ``"conv"`` = 7x7/2 conv then BN-ReLU-3x3/2 conv (paper Table I);
            ``"pool"`` = 7x7/2 conv then 3x3/2 max pool (the authors' code, ResNet,
            DenseNet).
        stem_channels: channels of the stem convolutions.
        downsample: between stages: ``"maxpool"`` (``pool_size``/2, DANet),
            ``"avgpool"`` (2x2/2, DenseNet) or ``"stride"`` (strided first residual
            block, ResNet).
        pool_size: max-pool kernel between stages: 3 (Table I) or 2 (the authors' code).
        residual_expansion: ResNet blocks: 1 (basic, ResNet-18/34) or 4 (bottleneck,
            ResNet-50).
        padding: ``"same"`` (TensorFlow's) or ``"symmetric"`` (PyTorch / MegEngine:
            ``k // 2`` on every side), which differ for the 7x7/2 stem convolution and
            the 3x3/2 stem pool; see :class:`danet_tf.layers.PreActConv`.
        conv_bias: a bias on every convolution (the authors' code); otherwise only the
            heads' last convolution has one (each other convolution feeds a BatchNorm).
        growth_rate, bottleneck: dense layer widths.
        use_cau, cau_position, cau_units, spatial, use_abs, attention_kernel: attention settings,
            see :class:`danet_tf.layers.DenseAttentionLayer`.
        fusion: ``"sfu"`` (second-order fusion) or ``"sum"``.
        decoder_channels: width of the bottom-up path.
        num_classes: classifier outputs (classification only).
        default_input: the input size the paper measures at (H, W).
        input_mean, input_std: per-channel statistics the model's first layer removes
            from its RGB 0-255 input, in R, G, B order (ImageNet by default).
        paper: the paper's numbers for this row, when it has them.
        description: one line for listings.
    """

    backbone: str = "oab"
    task: str = "pose"
    blocks: tuple[int, ...] = (3, 6, 12, 12)
    widths: tuple[int, ...] = (96, 192, 384, 512)
    stem: str = "conv"
    stem_channels: int = 64
    downsample: str = "maxpool"
    pool_size: int = 3
    residual_expansion: int = 1
    padding: str = "same"
    conv_bias: bool = False
    growth_rate: int = 32
    bottleneck: int = 32
    use_cau: bool = True
    cau_position: str = "input"
    cau_units: int = 32
    spatial: str = "orthogonal"
    use_abs: bool = True
    attention_kernel: int = 9
    fusion: str = "sfu"
    decoder_channels: int = 128
    num_classes: int = 1000
    default_input: tuple[int, int] = DEFAULT_INPUT_SIZE
    input_mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    input_std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    paper: PaperNumbers | None = field(default=None, compare=False)
    description: str = field(default="", compare=False)

    def validate(self) -> None:
        choices = {
            "backbone": ("oab", "resnet"),
            "task": ("pose", "classification"),
            "stem": ("conv", "pool"),
            "downsample": ("maxpool", "avgpool", "stride"),
            "cau_position": ("input", "both", "mask"),
            "spatial": ("orthogonal", "multiply", "residual", "xunit", "none"),
            "fusion": ("sfu", "sum"),
            "padding": ("same", "symmetric"),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not one of {allowed}")
        if len(self.blocks) != len(self.widths) or not self.blocks:
            raise ValueError(
                f"blocks {self.blocks} and widths {self.widths} need the same, non-zero length"
            )
        if any(int(b) <= 0 for b in self.blocks):
            raise ValueError(f"every stage needs at least one block, got blocks={self.blocks}")
        if len(self.input_mean) != 3 or len(self.input_std) != 3 or min(self.input_std) <= 0:
            raise ValueError(
                f"input_mean {self.input_mean} and input_std {self.input_std} need 3 values "
                "(R, G, B), std > 0"
            )
        if self.residual_expansion not in (1, 4):
            raise ValueError(f"residual_expansion must be 1 or 4, got {self.residual_expansion!r}")
        if self.pool_size not in (2, 3):
            raise ValueError(f"pool_size must be 2 or 3, got {self.pool_size!r}")
        if self.padding == "symmetric" and self.downsample == "maxpool" and self.pool_size == 3:
            # A zero border is exact for a max pool only after a ReLU (the stem's pool),
            # not on the signed transition outputs between stages.
            raise ValueError("padding='symmetric' needs pool_size=2 between stages, got 3")
        if (self.conv_bias or self.padding == "symmetric") and (
            self.backbone != "oab" or self.spatial == "xunit"
        ):
            raise ValueError(
                "conv_bias and padding='symmetric' are implemented for the authors' "
                f"topology (oab backbone, no xunit), got backbone={self.backbone!r}, "
                f"spatial={self.spatial!r}"
            )
        positive = ("growth_rate", "cau_units", "bottleneck", "attention_kernel", "decoder_channels")
        for name in positive + ("stem_channels", "num_classes"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

    def replace(self, **overrides) -> ModelSpec:
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown model override(s) {unknown}; known: {sorted(known)}")
        for key, cast in (("blocks", int), ("widths", int), ("input_mean", float),
                          ("input_std", float)):  # fmt: skip
            if key in overrides:
                overrides[key] = tuple(cast(v) for v in overrides[key])
        spec = dataclasses.replace(self, **overrides)
        spec.validate()
        return spec


_DANET72 = ModelSpec(
    blocks=(3, 6, 12, 12),
    widths=(96, 192, 384, 512),
    paper=PaperNumbers(3.4, 1.0, 71.0, "II", "DANet-72"),
    description="DANet-72, COCO 256x192",
)
_DANET88 = ModelSpec(
    blocks=(4, 5, 18, 14),
    widths=(128, 192, 512, 640),
    paper=PaperNumbers(5.3, 1.4, 71.9, "II", "DANet-88"),
    description="DANet-88, COCO 256x192",
)
_DANET98 = ModelSpec(
    blocks=(4, 12, 16, 14),
    widths=(128, 256, 512, 640),
    paper=PaperNumbers(5.7, 1.6, 72.8, "II", "DANet-98"),
    description="DANet-98, COCO 256x192",
)
_DANET102 = ModelSpec(
    blocks=(6, 12, 16, 14),
    widths=(128, 256, 512, 640),
    paper=PaperNumbers(5.8, 1.8, 73.4, "II", "DANet-102"),
    description="DANet-102, COCO 256x192",
)
# The authors' MegEngine implementation, which their published weights need: where it
# differs from Table I it is a field here, so the one builder builds it. The authors fed
# BGR images normalised with the RGB ImageNet constants taken in B, G, R order; these
# models take RGB like every other row, so their statistics are those constants
# reversed (the converter reverses the first convolution's input channels to match).
_AUTHORS = dict(
    stem="pool", pool_size=2, padding="symmetric", conv_bias=True, use_abs=False,
    input_mean=(103.53, 116.28, 123.675), input_std=(57.375, 57.12, 58.395), paper=None,
)  # fmt: skip
# The weights the authors published for each (COCO val2017 AP with their test protocol).
AUTHORS_WEIGHTS = {
    "danet72_authors": ("danet72_256x192_69_8.pkl", 69.8),
    "danet88_authors": ("danet88_256x192_70_4.pkl", 70.4),
    "danet98_authors": ("danet98_256x192_71_3.pkl", 71.3),
    "danet102_authors": ("danet102_256x192_71_7.pkl", 71.7),
}


def _authors(spec: ModelSpec, name: str) -> ModelSpec:
    checkpoint, ap = AUTHORS_WEIGHTS[name]
    variant = spec.description.split(",")[0]
    return spec.replace(
        **_AUTHORS,
        description=f"{variant} as the authors coded it (MegEngine): loads {checkpoint} ({ap} AP)",
    )


_BASELINE1 = _DANET102.replace(
    use_cau=False, spatial="none", fusion="sum",
    paper=PaperNumbers(3.4, 1.3, 70.2, "IV", "Baseline1"),
    description="Table IV Baseline1: DANet-102 without CAU, MAU and SFU",
)
_CAU_MAU = _BASELINE1.replace(
    use_cau=True, spatial="orthogonal", paper=PaperNumbers(5.7, 1.6, 72.6, "IV", "CAU + MAU"),
    description="Table IV: Baseline1 + CAU + MAU (Table V's OAB, Table VII's DANet-102 Sum)",
)
_MAU = _BASELINE1.replace(
    spatial="orthogonal", paper=PaperNumbers(4.2, 1.6, 72.1, "IV", "MAU"),
    description="Table IV: Baseline1 + MAU (Table VI's MAU)",
)
_RESNET18 = ModelSpec(
    backbone="resnet", blocks=(2, 2, 2, 2), widths=(64, 128, 256, 512), stem="pool",
    downsample="stride", use_cau=False, spatial="none", fusion="sum",
)
# Table IX: "a classical single pyramid network", backbones swapped. Its Params column
# matches the other tables' parameter counts times 4 (Res18: 47.0 vs Table VII's 11.8,
# Res34: 85.5 vs Table II's 21.4 for MSPN-ResNet34): megabytes of float32 weights. The
# rows carry params_m = printed / 4, MB_NOTE says so.
MB_NOTE = "Table IX prints float32 megabytes; params_m is that / 4"
_DENSE = dict(
    stem="pool", downsample="avgpool", bottleneck=128, use_cau=False, spatial="none",
    fusion="sum",
)  # fmt: skip
_DENSENET169 = ModelSpec(
    task="classification", blocks=(6, 12, 32, 32), widths=(128, 256, 640, 0),
    default_input=(224, 224), **_DENSE,
)  # fmt: skip


def _table_ix(printed_mb: float, gmacs: float, ap: float, row: str) -> PaperNumbers:
    return PaperNumbers(round(printed_mb / 4, 3), gmacs, ap, "IX", row, source=MB_NOTE)


SPECS: dict[str, ModelSpec] = {
    "danet72": _DANET72,
    "danet88": _DANET88,
    "danet98": _DANET98,
    "danet102": _DANET102,
    "danet72_authors": _authors(_DANET72, "danet72_authors"),
    "danet88_authors": _authors(_DANET88, "danet88_authors"),
    "danet98_authors": _authors(_DANET98, "danet98_authors"),
    "danet102_authors": _authors(_DANET102, "danet102_authors"),
    # The shipped preset's row: chosen so that this project's 2-core CPU can train it on
    # real photos (bfloat16, 128x96; docs/training.md, "The shipped preset").
    "danet_s": ModelSpec(
        blocks=(2, 3, 4, 4), widths=(48, 96, 160, 192), stem_channels=32, growth_rate=16,
        bottleneck=16, decoder_channels=64, cau_units=16, default_input=(128, 96),
        description="small DANet for CPU training and the shipped preset (not in the paper)",
    ),
    "danet_tiny": ModelSpec(
        blocks=(1, 1, 1, 1), widths=(16, 24, 32, 32), stem_channels=16, growth_rate=8,
        bottleneck=8, decoder_channels=16, attention_kernel=3,
        description="tiny DANet for tests and CPU smoke runs (not in the paper)",
    ),
    # Table IV: CAU, MAU and SFU added to DANet-102 stripped of all three. Its last row,
    # CAU + MAU + SFU, is danet102.
    "danet102_baseline1": _BASELINE1,
    "danet102_baseline2": _BASELINE1.replace(
        growth_rate=64, paper=PaperNumbers(4.5, 1.8, 71.6, "IV", "Baseline2"),
        description="Table IV Baseline2: Baseline1 with growth rate 64",
    ),
    "danet102_cau": _BASELINE1.replace(
        use_cau=True, paper=PaperNumbers(4.8, 1.3, 71.7, "IV", "CAU"),
        description="Table IV: Baseline1 + CAU",
    ),
    "danet102_mau": _MAU,
    "danet102_sfu": _BASELINE1.replace(
        fusion="sfu", paper=PaperNumbers(3.5, 1.5, 70.9, "IV", "SFU"),
        description="Table IV: Baseline1 + SFU (Table VII's DANet-102 (no MAU and CAU) SFU)",
    ),
    "danet102_cau_mau": _CAU_MAU,
    # Table V: OAB (= CAU + MAU, no SFU) and the two other positions of CAU in Fig. 5,
    # which the paper says cost the same: CAU keeps gating the C input channels, and the
    # variants differ in which branch reads the gated input (see DenseAttentionLayer).
    "danet102_oab_v1": _CAU_MAU.replace(
        cau_position="both", paper=PaperNumbers(5.7, 1.6, 72.3, "V", "Variant 1"),
        description="Table V OAB variant 1: both branches read the CAU-gated input",
    ),
    "danet102_oab_v2": _CAU_MAU.replace(
        cau_position="mask", paper=PaperNumbers(5.7, 1.6, 72.3, "V", "Variant 2"),
        description="Table V OAB variant 2: only MAU reads the CAU-gated input",
    ),
    # Table VI: Baseline1 plus a spatial unit (no CAU, no SFU); its MAU row is danet102_mau.
    "danet102_xunit": _BASELINE1.replace(
        spatial="xunit", paper=PaperNumbers(3.6, 1.4, 71.6, "VI", "xunit"),
        description="Table VI: Baseline1 + xUnit",
    ),
    "danet102_mau_v1": _MAU.replace(
        spatial="multiply", paper=PaperNumbers(4.2, 1.6, 71.8, "VI", "MAU-Variant1"),
        description="Table VI MAU variant 1: Baseline1 + MAU with x M",
    ),
    "danet102_mau_v2": _MAU.replace(
        spatial="residual", paper=PaperNumbers(4.2, 1.6, 71.9, "VI", "MAU-Variant2"),
        description="Table VI MAU variant 2: Baseline1 + MAU with x (1 + M)",
    ),
    # Table VII: summation vs SFU on three backbones. DANet-102 Sum is danet102_cau_mau,
    # SFU is danet102; "no MAU and CAU" Sum / SFU are danet102_baseline1 / danet102_sfu.
    "danet102_sum": _CAU_MAU.replace(
        paper=PaperNumbers(5.7, 1.6, 72.6, "VII", "DANet-102 Sum"),
        description="Table VII: DANet-102 with summation fusion (= danet102_cau_mau)",
    ),
    "resnet18_pyramid_sum": _RESNET18.replace(
        paper=PaperNumbers(11.8, 2.5, 70.8, "VII", "Res18 Sum"),
        description="Table VII: ResNet-18 single pyramid, summation fusion (Table IX Res18)",
    ),
    "resnet18_pyramid_sfu": _RESNET18.replace(
        fusion="sfu", paper=PaperNumbers(11.9, 2.7, 71.4, "VII", "Res18 SFU"),
        description="Table VII: ResNet-18 single pyramid with SFU",
    ),
    # Table IX: single pyramids on ResNet and DenseNet backbones (summation fusion).
    "resnet34_pyramid": _RESNET18.replace(
        blocks=(3, 4, 6, 3), paper=_table_ix(85.5, 4.2, 73.1, "Res34"),
        description="Table IX: ResNet-34 single pyramid",
    ),
    "resnet50_pyramid": _RESNET18.replace(
        blocks=(3, 4, 6, 3), residual_expansion=4, paper=_table_ix(95.4, 4.7, 73.3, "Res50"),
        description="Table IX: ResNet-50 single pyramid",
    ),
    "densenet98_pyramid": ModelSpec(
        blocks=(4, 12, 16, 14), widths=(96, 240, 376, 0), **_DENSE,
        paper=_table_ix(26.3, 2.4, 72.7, "Dense98"),
        description="Table IX: DenseNet single pyramid with DANet-98's layer counts (our reading)",
    ),
    "densenet121_pyramid": ModelSpec(
        blocks=(6, 12, 24, 16), widths=(128, 256, 512, 0), **_DENSE,
        paper=_table_ix(33.4, 3.0, 73.3, "Dense121"),
        description="Table IX: DenseNet-121 single pyramid",
    ),
    "densenet169_pyramid": ModelSpec(
        blocks=(6, 12, 32, 32), widths=(128, 256, 640, 0), **_DENSE,
        paper=_table_ix(57.4, 3.6, 73.6, "Dense169"),
        description="Table IX: DenseNet-169 single pyramid",
    ),
    # Table X: OAB in an ImageNet classifier (torchvision's DenseNet-169 count, 14.149 M /
    # 3.36 GMACs, cross-checks the counting rule: danet_tf.models.complexity.CROSS_CHECKS).
    "densenet169": _DENSENET169.replace(
        description="Table X: DenseNet-169 ImageNet classifier, 224x224",
        paper=PaperNumbers(13.5, 3.1, None, "X", "DenseNet169"),
    ),
    "oab_densenet169": _DENSENET169.replace(
        use_cau=True, spatial="orthogonal",
        paper=PaperNumbers(18.0, 3.6, None, "X", "OAB-DenseNet169"),
        description="Table X: DenseNet-169 with orthogonal attention layers, 224x224",
    ),
}


def get_spec(name: str) -> ModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(SPECS)}") from None
