"""Export-time graph rewrites: the same function as the Keras model, in ops that run faster.

A deployment graph is the model rebuilt as a flat functional graph of standard Keras layers
(:func:`deployment_model`), through each danet_tf layer's one ``_forward(x, ops)``
definition, with :class:`DeployOps` as ``ops``. The Keras model, training and ``.keras``
files never see these rewrites; the TFLite and ONNX writers (:mod:`converters`) build their
graph from the deployment model. Every rewrite is exact up to float rounding
(tests/export/test_rewrites.py checks each to 1e-5):

- ``depthwise_block``: a large depthwise convolution (MAU's and SFU's 9x9) becomes the sum of
  small depthwise convolutions on shifted windows of the zero-padded input; the kernel is
  zero-padded to a multiple of the block (9x9 -> four 5x5 pieces: 100 taps instead of 81, but
  XNNPACK runs a 5x5 kernel at several times the speed of its multipass 9x9 one, see
  docs/deployment.md, Graph rewrites). XNNPACK only: LiteRT's builtin kernels run the direct 9x9
  faster.
- ``transpose_phases``: a strided transposed convolution ("same" padding: the decoder's
  4x4/2 upsampling) becomes one small convolution per output phase (stride 2: four 2x2
  convolutions on windows of the zero-padded input, the taps each phase really uses) and a
  DEPTH_TO_SPACE that interleaves them; XNNPACK's TRANSPOSE_CONV ran at well under half the
  speed per MAC of its dense convolutions (docs/deployment.md, Graph rewrites).
- ``fuse_elementwise``: ``1 - sigmoid(a)`` as ``sigmoid(-a)`` (MAU's ``1 - sigmoid(|z|)`` as
  ``sigmoid(min(z, -z))`` in float; the int8 graphs use another form, see ``integer_ops``); SFU's
  ``lam * a + (1 - lam) * b`` as ``b + lam * (a - b)`` (3 ops instead of 5); ``|x|`` as one
  ABS op instead of ``relu(x) + relu(-x)`` (which tfmot's QAT needs, not the converters).
- ``integer_ops`` (the int8 modes): ``-x`` as ``x * -1`` (TFLite's NEG has no int8 kernel),
  MAU's gate ``1 - sigmoid(|z|)`` as ``sigmoid(z - relu(2 z))`` (ops XNNPACK runs in int8,
  so the whole int8 graph is one XNNPACK partition), and the image stem (a strided convolution over at
  most 4 channels) as SPACE_TO_DEPTH and a stride-1 convolution.

The per-format choice is :func:`export_rewrites`; each rewrite lives in its own module
(``depthwise``, ``transpose``, ``stem``; the layers they add in ``layers``), this one
chooses and applies them (:class:`DeployOps`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import keras
from keras import ops as kops

from danet_tf.export.rewrites.depthwise import split_depthwise, splittable_depthwise
from danet_tf.export.rewrites.layers import DepthToSpace, SpaceToDepth
from danet_tf.export.rewrites.stem import strided_as_space_to_depth
from danet_tf.export.rewrites.transpose import phased_transpose, transpose_as_phases
from danet_tf.layers.graph_ops import GraphOps

__all__ = [
    "EXPORT_REWRITES", "INT8", "NONE", "DeployOps", "DepthToSpace", "Rewrites", "SpaceToDepth",
    "deployment_model", "export_rewrites", "phased_transpose", "split_depthwise",
    "splittable_depthwise", "strided_as_space_to_depth", "transpose_as_phases",
]


@dataclass(frozen=True)
class Rewrites:
    """Which rewrites a deployment graph uses.

    Args:
        depthwise_block: split depthwise kernels larger than this into pieces of this size
            (None: keep every depthwise convolution as it is).
        fuse_elementwise: the fused elementwise forms (sigmoid(-a), b + lam (a - b), ABS).
        transpose_phases: strided "same" transposed convolutions as per-phase convolutions
            and a depth-to-space.
        integer_ops: the forms that suit int8 (the int8 modes): ``-x`` as ``x * -1``, since
            TFLite's NEG has no int8 kernel and would run in float between a dequantize and
            a quantize op, and MAU's ``1 - sigmoid(|z|)`` as ``sigmoid(z - relu(2 z))``
            (XNNPACK has no int8 ABS, MINIMUM or standalone RELU; the RELU fuses into the
            MUL); and a strided convolution over at most 4 channels (the
            7x7/2 stem on the image) as a SPACE_TO_DEPTH and a stride-1 convolution over 4x
            the channels, which XNNPACK's int8 kernels run 1.6x faster.
    """

    depthwise_block: int | None = 5
    fuse_elementwise: bool = True
    transpose_phases: bool = True
    integer_ops: bool = False

    @property
    def any(self) -> bool:
        return (
            self.depthwise_block is not None
            or self.fuse_elementwise
            or self.transpose_phases
            or self.integer_ops
        )


NONE = Rewrites(depthwise_block=None, fuse_elementwise=False, transpose_phases=False)
INT8 = Rewrites(integer_ops=True)

# Per export mode (``api.mode_name``: the format and quantization mode), as measured in
# docs/deployment.md, Graph rewrites and Speed (LiteRT 2.3.0 XNNPACK, ONNX Runtime 1.32, a
# Zen 3 CPU).
EXPORT_REWRITES: dict[str, Rewrites] = {
    "tflite": Rewrites(),
    "tflite-fp16": Rewrites(),
    "tflite-dynamic": Rewrites(),
    "tflite-int8": INT8,
    # The depthwise tiles stay float32 between dequantize/quantize ops (the mode's point);
    # split, they run at float32's speed, whole at half of it (docs/deployment.md, Graph
    # rewrites).
    "tflite-int8-float-dw": INT8,
    "tflite-int8-float-ew": INT8,
    "onnx": Rewrites(depthwise_block=None),
    # Quantization-aware training (tf_keras, tfmot): only the depthwise tiles (DeployOps).
    "tflite-qat": Rewrites(fuse_elementwise=False, transpose_phases=False),
}
# Folding the pre-activation BatchNorms into the channel gates and the following 1x1
# convolutions was tried, exact, and removed: DANet-72 float32 TFLite and ONNX Runtime ran no
# faster with it, and int8 files agreed worse with float32 (CHANGELOG.md, 2026-12-01, entry 6;
# removed 2026-12-07).


def export_rewrites(fmt: str, quantize: str = "none") -> Rewrites:
    """The rewrites an export of ``fmt`` (``tflite``/``onnx``) with ``quantize`` uses."""
    key = fmt if fmt != "tflite" or quantize == "none" else f"tflite-{quantize}"
    return EXPORT_REWRITES.get(key, NONE)


class DeployOps(GraphOps):
    """:class:`GraphOps` with the export-time rewrites of ``rewrites``.

    ``K`` is Keras 3, or ``tf_keras`` for quantization-aware training: tfmot trains through
    the depthwise tiles (standard ZeroPadding2D / Cropping2D / DepthwiseConv2D / Add layers)
    but not through the others, which build layers it does not know (DepthToSpace,
    per-channel constants) or ops its quantizers need in another form (``|x|``), so with
    ``tf_keras`` only ``depthwise_block`` may be set (``EXPORT_REWRITES["tflite-qat"]``).
    """

    def __init__(self, rewrites: Rewrites = Rewrites(), prefix: str = "", K: Any = keras) -> None:
        super().__init__(K, prefix)
        if K is not keras and replace(rewrites, depthwise_block=None).any:
            raise ValueError(f"with {K.__name__} only the depthwise tiles apply, got {rewrites}")
        self.rewrites = rewrites

    def apply(self, layer: keras.layers.Layer, *args: Any) -> Any:
        block = self.rewrites.depthwise_block
        if (
            block is not None
            and isinstance(layer, keras.layers.DepthwiseConv2D)
            and splittable_depthwise(layer, block)
        ):
            return split_depthwise(layer, args[0], block, self._name, self.K)
        if (
            self.rewrites.transpose_phases
            and isinstance(layer, keras.layers.Conv2DTranspose)
            and phased_transpose(layer)
        ):
            return transpose_as_phases(layer, args[0], self._name)
        if self.rewrites.integer_ops and type(layer) is keras.layers.Conv2D:
            out = strided_as_space_to_depth(layer, args[0], self._name)
            if out is not None:
                return out
        return super().apply(layer, *args)

    def sigmoid_complement(self, x, absolute: bool = False):
        if not self.rewrites.fuse_elementwise:
            return super().sigmoid_complement(x, absolute)
        if absolute and self.rewrites.integer_ops:
            # int8: GraphOps's sigmoid(x - relu(2x)), a MUL with a fused RELU and a SUB.
            # XNNPACK has no int8 ABS, MINIMUM, MAXIMUM or standalone RELU: each of those
            # splits the graph into separately delegated pieces with a slow builtin op
            # between them, and the MINIMUM / MAXIMUM forms (min(x, -x)) also cost keypoint
            # agreement: the quantizer gives their operands the result's range, which
            # clamps half of x (docs/deployment.md, Graph rewrites).
            return super().sigmoid_complement(x, absolute)
        if absolute:  # -|x| = min(x, -x): NEG + MINIMUM, cheaper than ABS
            return self.sigmoid(kops.minimum(x, self._negative(x)))
        return self.sigmoid(self._negative(x))

    def _negative(self, x):
        return kops.multiply(x, -1.0) if self.rewrites.integer_ops else kops.negative(x)

    def blend(self, lam, a, b):
        if not self.rewrites.fuse_elementwise:
            return super().blend(lam, a, b)
        return self.add(b, self.multiply(lam, kops.subtract(a, b)))

    def abs(self, x):
        if not self.rewrites.fuse_elementwise:
            return super().abs(x)
        return kops.abs(x)


def deployment_model(model: keras.Model, rewrites: Rewrites = Rewrites()) -> keras.Model:
    """``model`` rebuilt as a flat Keras 3 graph of standard layers with ``rewrites``.

    Weights are copied; the input and output names and structure are kept. With no rewrite
    to apply, ``model`` itself is returned.
    """
    if not rewrites.any:
        return model
    from danet_tf.models.flatten import rebuild

    return rebuild(model, DeployOps(rewrites), keras)
