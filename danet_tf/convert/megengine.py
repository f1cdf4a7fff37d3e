"""The authors' MegEngine DANet checkpoints -> Keras models that compute the same function.

The authors' module tree maps onto the layers :func:`danet_tf.models.build_from_spec`
builds for an ``*_authors`` row (names are MegEngine's, coarse level ``i = 0`` first):

=======================================  ==============================================
MegEngine                                danet_tf (multi-scale model)
=======================================  ==============================================
``fp.head.0`` conv 7x7/2, ``.1`` BN      ``stem_conv1``, ``stem_bn``
``fp.body_layer.{s}.{j}.cau.att_conv``   ``stage{s+1}_oab`` layer ``j``: ``cau`` squeeze
                                         (``.0`` BN, ``.2`` conv), excite (``.3``, ``.5``)
``...mau.att_conv``                      ``mau`` project (``.0``, ``.2``), spatial
                                         (``.3``, ``.5`` depthwise 9x9)
``...body_conv``                         ``bottleneck`` (``.0``, ``.2``), ``grow`` (``.3``,
                                         ``.5``)
``fp.transition_layer.{s}`` (.0, .2)     ``stage{s+1}_transition``
``up_convs.{i}`` (.0, .2)                ``{level}_lateral``
``deconvs.{i-1}`` (.0, .2)               ``{level}_upsample`` (transposed 4x4/2)
``sfus.{i-1}.att_conv`` (.0 .2 .3 .5)    ``{level}_sfu`` project, spatial
``out_convs.{i}`` (.0 .2 .3 .5)          ``{level}_head1``, ``{level}_head2``
=======================================  ==============================================

Layouts: MegEngine is NCHW. Conv weights (out, in, kh, kw) become Keras (kh, kw, in, out);
grouped depthwise weights (C, 1, 1, kh, kw) become (kh, kw, C, 1); transposed-conv weights
(in, out, kh, kw) become (kh, kw, out, in) (both frameworks define the transposed
convolution as the gradient of the same cross-correlation, so no kernel flip); biases and
BatchNorm parameters (1, C, 1, 1) or (C,) become (C,).

The authors fed BGR images; these models take RGB. The row's ``input_mean``/``input_std``
are their statistics in RGB order, and the stem convolution's input channels are reversed
here, so the converted model computes their function on the same pixels.

Every checkpoint tensor is used exactly once and every Keras weight is set exactly once;
anything missing, unexpected or wrongly shaped fails the conversion, naming the tensor.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_tf.convert.checkpoint import read_state_dict
from danet_tf.export.metadata import sha256_file
from danet_tf.models import LEVELS, SPECS, build_from_spec, inference_model
from danet_tf.models.specs import ModelSpec

AUTHORS_BASE = SPECS["danet72_authors"]
# The authors' per-channel statistics in the order their config lists them, which is the
# order of their BGR input: the RGB ImageNet constants taken in B, G, R order (their
# keypoints config before DANet, and the reference outputs this converter is tested on).
# The config of the commit that added DANet lists 255 x (0.406, 0.485, 0.456) /
# (0.225, 0.229, 0.224) instead; which one the published weights were trained with cannot
# be checked without them, so it is an option (README, "Pretrained weights").
BGR_MEAN = tuple(reversed(AUTHORS_BASE.input_mean))
BGR_STD = tuple(reversed(AUTHORS_BASE.input_std))
# The spec fields a checkpoint determines, in the order a mismatch is reported.
INFERRED_FIELDS = (
    "blocks", "widths", "stem_channels", "growth_rate", "bottleneck", "cau_units",
    "attention_kernel", "decoder_channels",
)  # fmt: skip


class CheckpointMismatchError(ValueError):
    """The checkpoint's tensors do not fit the model (missing, unexpected, misshaped)."""


@dataclass(frozen=True)
class Inferred:
    """What a checkpoint says about the architecture."""

    spec: ModelSpec
    num_keypoints: int
    name: str | None  # the registered ``*_authors`` row it equals, if any

    def describe(self) -> str:
        fields = ", ".join(f"{f}={getattr(self.spec, f)}" for f in INFERRED_FIELDS)
        return f"{fields}, num_keypoints={self.num_keypoints}"


class _Tensors:
    """The checkpoint's tensors, handed out once each."""

    def __init__(self, state: dict[str, np.ndarray], source: str) -> None:
        self.state = state
        self.source = source
        self.used: set[str] = set()

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.state:
            raise CheckpointMismatchError(f"{self.source}: missing tensor {name!r}")
        return tuple(self.state[name].shape)

    def take(self, name: str, *shapes: tuple[int, ...]) -> np.ndarray:
        """The tensor ``name``, which must have one of ``shapes`` (MegEngine layouts)."""
        if name in self.used:
            raise CheckpointMismatchError(f"{self.source}: tensor {name!r} used twice")
        if name not in self.state:
            raise CheckpointMismatchError(
                f"{self.source}: missing tensor {name!r} (expected shape "
                f"{' or '.join(map(str, shapes))})"
            )
        value = self.state[name]
        if tuple(value.shape) not in shapes:
            raise CheckpointMismatchError(
                f"{self.source}: tensor {name!r} has shape {tuple(value.shape)}, the model "
                f"needs {' or '.join(map(str, shapes))}"
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise CheckpointMismatchError(
                f"{self.source}: tensor {name!r} has dtype {value.dtype}, expected floats"
            )
        self.used.add(name)
        return np.asarray(value, np.float32)

    def check_all_used(self) -> None:
        unused = sorted(set(self.state) - self.used)
        if unused:
            shapes = ", ".join(f"{n} {tuple(self.state[n].shape)}" for n in unused[:10])
            raise CheckpointMismatchError(
                f"{self.source}: {len(unused)} unexpected tensor(s) the model has no place "
                f"for: {shapes}{' ...' if len(unused) > 10 else ''}"
            )


def _count(state: dict[str, np.ndarray], pattern: str) -> int:
    """Number of distinct integers ``N`` for which some key matches ``pattern % N``."""
    regex = re.compile(pattern.replace(".", r"\.").replace("{}", r"(\d+)") + r"\.")
    return len({int(m.group(1)) for key in state if (m := regex.match(key))})


def _uniform(tensors: _Tensors, names: list[str], axis: int, what: str) -> int:
    values = {n: tensors.shape(n)[axis] for n in names}
    distinct = sorted(set(values.values()))
    if len(distinct) != 1:
        first = {v: next(n for n in names if values[n] == v) for v in distinct}
        raise CheckpointMismatchError(
            f"{tensors.source}: the {what} differs across layers ({first}); the model table "
            "has one value for all stages"
        )
    return distinct[0]


def infer_architecture(state: dict[str, np.ndarray], source: str = "checkpoint") -> Inferred:
    """The ``*_authors`` spec (and K) whose tensors have the checkpoint's shapes."""
    t = _Tensors(state, source)
    stages = _count(state, "fp.body_layer.{}")
    if stages != len(LEVELS):
        raise CheckpointMismatchError(
            f"{source}: found {stages} stages (fp.body_layer.N); DANet has {len(LEVELS)} "
            "(is this a DANet checkpoint from the authors' MegEngine code?)"
        )
    blocks = tuple(_count(state, f"fp.body_layer.{s}.{{}}") for s in range(stages))
    layers = [f"fp.body_layer.{s}.{j}" for s in range(stages) for j in range(blocks[s])]
    spec = AUTHORS_BASE.replace(
        blocks=blocks,
        widths=tuple(t.shape(f"fp.transition_layer.{s}.2.weight")[0] for s in range(stages)),
        stem_channels=t.shape("fp.head.0.weight")[0],
        growth_rate=_uniform(t, [f"{n}.body_conv.5.weight" for n in layers], 0, "growth rate"),
        bottleneck=_uniform(t, [f"{n}.body_conv.2.weight" for n in layers], 0, "bottleneck"),
        cau_units=_uniform(t, [f"{n}.cau.att_conv.2.weight" for n in layers], 0, "CAU width"),
        attention_kernel=_uniform(
            t, [f"{n}.mau.att_conv.5.weight" for n in layers], -1, "MAU kernel size"
        ),
        decoder_channels=t.shape("up_convs.0.2.weight")[0],
        description="DANet as the authors coded it (MegEngine), converted",
    )
    num_keypoints = t.shape("out_convs.0.5.weight")[0]
    name = next(
        (n for n, s in SPECS.items() if n.endswith("_authors") and s == spec), None
    )
    return Inferred(spec, int(num_keypoints), name)


def check_against(inferred: Inferred, name: str, source: str) -> None:
    """Raise, naming the first differing field (and stage), unless ``name`` fits."""
    if name not in SPECS:
        known = ", ".join(n for n in SPECS if n.endswith("_authors"))
        raise ValueError(f"unknown model {name!r}; the authors' models are: {known}")
    expected = SPECS[name]
    for field in INFERRED_FIELDS:
        want, got = getattr(expected, field), getattr(inferred.spec, field)
        if want == got:
            continue
        if isinstance(want, tuple) and len(want) == len(got):
            stage = next(i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b)
            noun = "layers" if field == "blocks" else "channels"
            raise ValueError(
                f"{source} does not fit {name}: stage {stage + 1} has {got[stage]} {noun} in "
                f"the checkpoint but {want[stage]} in {name} ({field} {got} vs {want})"
            )
        raise ValueError(f"{source} does not fit {name}: {field} is {got} in the checkpoint, "
                         f"{want} in {name}")  # fmt: skip
    others = {f.name for f in expected.__dataclass_fields__.values()} - set(INFERRED_FIELDS)
    differing = sorted(
        f for f in others
        if f not in ("paper", "description") and getattr(expected, f) != getattr(AUTHORS_BASE, f)
    )  # fmt: skip
    if differing:
        raise ValueError(f"{name} is not one of the authors' topologies (differs in {differing})")


# ---- weight assignment --------------------------------------------------------------


def _set(layer: keras.layers.Layer, values: list[np.ndarray], counter: list[int]) -> None:
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(v.shape) for v in values]
    if expected != got:  # a converter bug, not a checkpoint problem
        raise AssertionError(f"{layer.name}: prepared {got} for weights {expected}")
    layer.set_weights(values)
    counter[0] += len(values)


def _bn(t: _Tensors, prefix: str, layer, counter) -> None:
    c = int(layer.weights[0].shape[0])
    shapes = ((c,), (1, c, 1, 1))
    values = [
        t.take(f"{prefix}.{n}", *shapes).reshape(c)
        for n in ("weight", "bias", "running_mean", "running_var")
    ]
    _set(layer, values, counter)


def _bias(t: _Tensors, prefix: str, c: int) -> np.ndarray:
    return t.take(f"{prefix}.bias", (1, c, 1, 1), (c,)).reshape(c)


def _conv(t: _Tensors, prefix: str, layer, counter, reverse_inputs: bool = False) -> None:
    kh, kw, cin, cout = (int(v) for v in layer.kernel.shape)
    weight = t.take(f"{prefix}.weight", (cout, cin, kh, kw)).transpose(2, 3, 1, 0)
    if reverse_inputs:
        weight = weight[:, :, ::-1, :]
    _set(layer, [np.ascontiguousarray(weight), _bias(t, prefix, cout)], counter)


def _depthwise(t: _Tensors, prefix: str, layer, counter) -> None:
    kh, kw, c, _ = (int(v) for v in layer.kernel.shape)
    weight = t.take(f"{prefix}.weight", (c, 1, 1, kh, kw), (c, 1, kh, kw))
    weight = weight.reshape(c, kh, kw).transpose(1, 2, 0)[..., None]
    _set(layer, [np.ascontiguousarray(weight), _bias(t, prefix, c)], counter)


def _transpose(t: _Tensors, prefix: str, layer, counter) -> None:
    kh, kw, cout, cin = (int(v) for v in layer.kernel.shape)
    weight = t.take(f"{prefix}.weight", (cin, cout, kh, kw)).transpose(2, 3, 1, 0)
    _set(layer, [np.ascontiguousarray(weight), _bias(t, prefix, cout)], counter)


def _unit(t: _Tensors, prefix: str, unit, counter) -> None:
    """A :class:`PreActConv` from a MegEngine ``Sequential(BN, ReLU, conv)`` at ``prefix``
    whose BN is entry ``.{i}`` and conv ``.{i+2}``; ``prefix`` ends in that BN's index."""
    head, index = prefix.rsplit(".", 1)
    _bn(t, prefix, unit.norm, counter)
    conv_prefix = f"{head}.{int(index) + 2}"
    {"conv": _conv, "depthwise": _depthwise, "transpose": _transpose}[unit.kind](
        t, conv_prefix, unit.conv, counter
    )


def _pair(t: _Tensors, prefix: str, first, second, counter) -> None:
    """Two units from one ``Sequential(BN, ReLU, conv, BN, ReLU, conv)``."""
    _unit(t, f"{prefix}.0", first, counter)
    _unit(t, f"{prefix}.3", second, counter)


def load_weights(model: keras.Model, state: dict[str, np.ndarray], source: str) -> None:
    """Set every weight of a multi-scale ``*_authors`` model from the state dict."""
    t = _Tensors(state, source)
    counter = [0]
    _conv(t, "fp.head.0", model.get_layer("stem_conv1"), counter, reverse_inputs=True)
    _bn(t, "fp.head.1", model.get_layer("stem_bn"), counter)
    for s in range(len(LEVELS)):
        block = model.get_layer(f"stage{s + 1}_oab")
        for j, layer in enumerate(block.dense_layers):
            p = f"fp.body_layer.{s}.{j}"
            _pair(t, f"{p}.cau.att_conv", layer.cau.squeeze, layer.cau.excite, counter)
            _pair(t, f"{p}.mau.att_conv", layer.gate.project, layer.gate.spatial, counter)
            _pair(t, f"{p}.body_conv", layer.reduce, layer.grow, counter)
        _unit(t, f"fp.transition_layer.{s}.0", model.get_layer(f"stage{s + 1}_transition"),
              counter)  # fmt: skip
    for i, level in enumerate(LEVELS):
        _unit(t, f"up_convs.{i}.0", model.get_layer(f"{level}_lateral"), counter)
        if i:
            _unit(t, f"deconvs.{i - 1}.0", model.get_layer(f"{level}_upsample"), counter)
            sfu = model.get_layer(f"{level}_sfu")
            _pair(t, f"sfus.{i - 1}.att_conv", sfu.project, sfu.spatial, counter)
        _pair(t, f"out_convs.{i}", model.get_layer(f"{level}_head1"),
              model.get_layer(f"{level}_head2"), counter)  # fmt: skip
    t.check_all_used()
    if counter[0] != len(model.weights):
        raise AssertionError(f"set {counter[0]} of the model's {len(model.weights)} weights")


# ---- the public entry point ---------------------------------------------------------


def from_megengine(
    path: str | os.PathLike,
    *,
    model: str | None = None,
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    multi_scale: bool = False,
    bgr_mean: tuple[float, float, float] = BGR_MEAN,
    bgr_std: tuple[float, float, float] = BGR_STD,
) -> keras.Model:
    """Convert an authors' MegEngine DANet checkpoint to a Keras model.

    Args:
        path: a ``.pkl`` written by ``megengine.save``: a bare state dict or a training
            checkpoint ``{"epoch", "state_dict"}`` (read without running pickled code).
        model: a registered ``*_authors`` name the checkpoint must fit (e.g.
            ``"danet72_authors"``); by default the architecture is inferred from the
            tensor shapes and named after the row it equals.
        input_size: (H, W) of the model's input, multiples of 32.
        multi_scale: return all four levels (a dict keyed by :data:`LEVELS`) instead of
            the finest heatmaps only.
        bgr_mean, bgr_std: the statistics the authors' pipeline removed from its B, G, R
            channels, in that order (0-255 scale); the model stores them in RGB order.

    Returns:
        A Keras model taking float32 RGB 0-255 images (N, H, W, 3) named ``image`` and
        returning heatmaps (N, H/4, W/4, K). :func:`danet_tf.convert.convert_checkpoint`
        also writes it to a ``.keras`` file that records the checkpoint's sha256.
    """
    return convert_with_source(
        path, model=model, input_size=input_size, multi_scale=multi_scale,
        bgr_mean=bgr_mean, bgr_std=bgr_std,
    )[0]  # fmt: skip


def convert_with_source(
    path: str | os.PathLike,
    *,
    model: str | None,
    input_size: tuple[int, int],
    multi_scale: bool,
    bgr_mean: tuple[float, float, float],
    bgr_std: tuple[float, float, float],
) -> tuple[keras.Model, dict[str, Any]]:
    """:func:`from_megengine`, reading the checkpoint once, plus its provenance record
    (file name, sha256, architecture, statistics)."""
    path = Path(path)
    state = read_state_dict(path)
    inferred = infer_architecture(state, str(path))
    if model is not None:
        check_against(inferred, model, str(path))
    name = model or inferred.name or "danet_authors"
    spec = inferred.spec.replace(
        input_mean=tuple(reversed(bgr_mean)), input_std=tuple(reversed(bgr_std))
    )
    built = build_from_spec(
        spec, input_shape=(*input_size, 3), num_keypoints=inferred.num_keypoints,
        multi_scale=True, name=name,
    )  # fmt: skip
    load_weights(built, state, str(path))
    source = {
        "format": "megengine",
        "file": path.name,
        "sha256": sha256_file(path),
        "architecture": inferred.describe(),
        "model": inferred.name,
        "bgr_mean": list(bgr_mean),
        "bgr_std": list(bgr_std),
    }
    return (built if multi_scale else inference_model(built)), source
