"""Typed training configuration: one dataclass per section, YAML and the command line override.

A config is ``Config(model=ModelConfig, codec=CodecConfig, data=DataConfig,
train=TrainConfig, runtime=RuntimeConfig)``. Every field has a default; a YAML file only overrides fields, and
``--set section.field=value`` (or a named flag of ``tools/train.py``) overrides any field
again. Values are checked and converted at load time against the field's type annotation and
its ``metadata`` (``choices``, ``min``, ``max``), so a typo or a bad value fails before any
TensorFlow work starts, with the field's dotted name and the received value in the message.

This module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from danet_edge.choices import (
    DECODE_MODES,
    DEFAULT_INPUT_SIZE,
    STRATEGIES,  # declared there, TensorFlow-free, for --help
)
from danet_tf.config_values import ConfigError, coerce

__all__ = [
    "LOSSES", "LR_SCALING", "CodecConfig", "Config", "ConfigError", "DataConfig", "ModelConfig", "RuntimeConfig",
    "TrainConfig", "build_codec", "dataset_tag", "default_workdir", "load_config",
    "parse_set_args",
]


def _spec(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    """Which network to build (see ``danet_tf.list_models()``)."""

    name: str = "danet_tiny"
    input_size: tuple[int, int] = _spec(DEFAULT_INPUT_SIZE, min=32)
    # None: as many as the training annotations' category defines.
    num_keypoints: int | None = _spec(None, min=1)
    # A fresh run (no checkpoint yet) starts from these weights instead of random ones: a
    # ``.weights.h5`` of the training (multi-scale) model, as `danet_tf.training.snapshot`
    # writes from a run's newest checkpoint. Ignored once the run has a checkpoint.
    init_weights: str | None = None


@dataclass
class DataConfig:
    """Where the samples come from and how they are augmented.

    ``annotations: null`` trains on the embedded synthetic dataset, generated once into
    ``synthetic_dir`` (default: ``~/.cache/danet_tf/synthetic``). The training samples are
    visited in a fresh full permutation every pass, a function of ``runtime.seed`` and the
    pass number only (`danet_tf.data.order`), so there is no shuffle buffer to size.
    """

    # Names the dataset in the default work directory (work_dirs/<model>_<name>-<H>x<W>);
    # None: "synthetic" without annotations, else the annotation file's stem.
    name: str | None = None
    annotations: str | None = None
    images: str | None = None
    val_annotations: str | None = None
    val_images: str | None = None
    synthetic_dir: str | None = None
    synthetic_train_images: int = _spec(400, min=1)
    synthetic_val_images: int = _spec(64, min=1)
    # Training persons whose annotated box (w x h as in the file, before clipping) is smaller
    # are dropped. The authors' COCOJoints sets 1500 px^2 but tests it under a key that its
    # training sample order never holds, so their runs kept every box; HRNet and mmpose do
    # not filter by area either.
    min_box_area: float = _spec(0.0, min=0.0)
    rotation: float = _spec(45.0, min=0.0, max=180.0)
    scale_range: tuple[float, float] = _spec((0.7, 1.35), min=0.01)
    flip: bool = True
    half_body_prob: float = _spec(0.3, min=0.0, max=1.0)
    # Chance that a half-body crop keeps the upper body when both halves qualify: HRNet's
    # ``np.random.randn() < 0.5`` is P = 0.69, which mmpose 1.x writes as 0.7.
    half_body_upper_prob: float = _spec(0.7, min=0.0, max=1.0)


@dataclass
class CodecConfig:
    """How keypoints become heatmaps and back: the run's `HeatmapCodec` (`build_codec`).

    The input size is ``model.input_size``. Every field left at None takes the codec's own
    default (``danet_edge.codec.HeatmapCodec``, the one place those defaults are declared).
    Training writes the resulting codec into ``final.keras``/``best.keras``; evaluation,
    validation, calibration, export and the edge runtime read it back from the model file.
    """

    # Input pixels per heatmap cell (the models regress heatmaps at 1/4 of the input).
    heatmap_stride: int | None = _spec(None, min=1)
    # Gaussian sigma of the training target per supervised level, in heatmap cells.
    level_sigmas: dict[str, float] | None = _spec(None, min=1e-6)
    # The person box, grown to the input's aspect ratio, is padded by this factor (HRNet,
    # mmpose: 1.25) to give the crop; training, evaluation and the devices all crop so.
    padding: float | None = _spec(None, min=1.0)
    decode_mode: str | None = _spec(None, choices=DECODE_MODES)
    # Odd size of the Gaussian blur of blur_shift decoding, in heatmap cells.
    blur_kernel: int | None = _spec(None, min=1)
    # Average each crop's heatmaps with its mirror's at test time.
    flip_test: bool | None = None


LOSSES = ("authors", "danet_tf")
LR_SCALING = ("linear", "sqrt", "none")


@dataclass
class TrainConfig:
    """Loss, optimizer, schedule and checkpointing.

    Batch arithmetic (`danet_tf.training.batching.batch_plan`): ``global_batch_size`` is split
    evenly over the replicas (an error when the replicas do not divide it), and the learning
    rates are those for ``reference_batch_size``, scaled by ``lr_scaling``: ``linear``
    (x global / reference), ``sqrt`` (x sqrt(global / reference)) or ``none``.
    """

    # The paper: 2.8e7 samples at batch 256, 187 passes over COCO's 150k persons; the
    # authors' training script: 200 epochs.
    epochs: int = _spec(200, min=1)
    # None: one pass over the training samples per epoch (at the global batch size).
    steps_per_epoch: int | None = _spec(None, min=1)
    global_batch_size: int = _spec(256, min=1)
    reference_batch_size: int = _spec(256, min=1)
    lr_scaling: str = _spec("linear", choices=LR_SCALING)
    optimizer: str = _spec("adam", choices=("adam", "adamw"))
    # Both rates are for reference_batch_size (see lr_scaling).
    learning_rate: float = _spec(3e-4, min=0.0)
    end_learning_rate: float = _spec(0.0, min=0.0)
    warmup_steps: int = _spec(0, min=0)
    weight_decay: float = _spec(0.0, min=0.0)
    # Keras adds epsilon to sqrt(v) before the bias correction: at step t it acts as
    # epsilon / sqrt(1 - beta_2 ** t) of the textbook form, 31.6 x epsilon at step 1.
    adam_epsilon: float = _spec(1e-8, min=0.0)
    clipnorm: float | None = _spec(None, min=0.0)
    # authors: MSE on visible (v=2) joints at the coarse levels and OHKM alone at the finest
    # (their calc_loss); danet_tf: MSE on every labelled joint at every level, plus OHKM.
    loss: str = _spec("authors", choices=LOSSES)
    # Loss weight per supervised level, coarse to fine (danet_tf.models.LEVELS order);
    # None: the loss's own (authors: 1/4 per coarse level and 0 for the finest level's
    # plain MSE; danet_tf: 1 each).
    level_weights: tuple[float, ...] | None = _spec(None, min=0.0)
    # Targets are multiplied by this before the loss (the model learns scaled heatmaps and
    # final.keras divides it back out, so exported heatmaps keep the codec's peak of 1).
    # Megvii's CPN/MSPN code trained on peaks of 255; with peak 1 a large share of the first
    # gradients lies under Adam's epsilon (docs/training.md, "Target scale and epsilon").
    target_scale: float = _spec(255.0, min=1e-6)
    ohkm_weight: float = _spec(1.0, min=0.0)
    ohkm_ratio: float = _spec(0.5, min=0.0, max=1.0)
    checkpoint_every_steps: int = _spec(200, min=1)
    keep_checkpoints: int = _spec(2, min=1)
    log_every_steps: int = _spec(10, min=1)
    # Validation at the end of every epoch on the first val_samples persons of the
    # validation set: COCO keypoint AP (pycocotools, ground-truth boxes) when its
    # annotations carry OKS sigmas (COCO keypoints), else PCK@0.05 of the crop's longer
    # side. best.keras is the model of the best epoch by that metric. 0 disables it.
    val_samples: int = _spec(64, min=0)
    # Prediction overlays (work dir and TensorBoard) on this many fixed validation crops.
    overlay_samples: int = _spec(8, min=0)


@dataclass
class RuntimeConfig:
    """Where and how the run executes."""

    # None: work_dirs/<model>_<dataset>-<H>x<W> (`default_workdir`), one per resolved run.
    workdir: str | None = None
    strategy: str = _spec("auto", choices=STRATEGIES)
    mixed_precision: bool = False
    seed: int = _spec(0, min=0)
    # >1 splits the CPU into that many logical devices (multi-replica tests without GPUs).
    cpu_devices: int = _spec(0, min=0)
    verbose: int = _spec(1, choices=(0, 1, 2))


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = dataclasses.asdict(self)
        for section in out.values():
            for key, value in section.items():
                if isinstance(value, tuple):
                    section[key] = list(value)
        return out

    def save(self, path: str | Path) -> None:
        """Write the YAML atomically (`danet_tf.atomic`)."""
        from danet_tf.atomic import atomic_write_text

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def _set_field(cfg: Config, dotted: str, value: Any) -> None:
    section_name, _, field_name = dotted.partition(".")
    sections = {f.name: f for f in dataclasses.fields(Config)}
    if section_name not in sections or not field_name:
        raise ConfigError(
            f"unknown config key {dotted!r}; expected <section>.<field> with section one of "
            f"{', '.join(sections)}"
        )
    section = getattr(cfg, section_name)
    fields = {f.name: f for f in dataclasses.fields(section)}
    if field_name not in fields:
        raise ConfigError(
            f"unknown config key {dotted!r}; known in {section_name}: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(type(section))
    meta = dict(fields[field_name].metadata)
    setattr(section, field_name, coerce(dotted, value, hints[field_name], meta))


def _validate(cfg: Config) -> Config:
    lo, hi = cfg.data.scale_range
    if lo > hi:
        raise ConfigError(f"data.scale_range: expected low <= high, got {cfg.data.scale_range!r}")
    h, w = cfg.model.input_size
    if h % 32 or w % 32:
        raise ConfigError(f"model.input_size: expected multiples of 32, got {h}x{w}")
    if (cfg.data.annotations is None) != (cfg.data.images is None):
        raise ConfigError(
            "data.annotations and data.images: give both or neither, got "
            f"annotations={cfg.data.annotations!r}, images={cfg.data.images!r}"
        )
    if (cfg.data.val_annotations is None) != (cfg.data.val_images is None):
        raise ConfigError(
            "data.val_annotations and data.val_images: give both or neither, got "
            f"val_annotations={cfg.data.val_annotations!r}, val_images={cfg.data.val_images!r}"
        )
    build_codec(cfg)  # a bad codec setting fails here, named
    if cfg.train.end_learning_rate > cfg.train.learning_rate:
        raise ConfigError(
            f"train.end_learning_rate: expected <= learning_rate ({cfg.train.learning_rate}), "
            f"got {cfg.train.end_learning_rate!r}"
        )
    return cfg


def build_codec(cfg: Config, levels: tuple[str, ...] | None = None):
    """The run's `HeatmapCodec`: ``model.input_size`` and the ``codec`` section, the codec's
    own defaults for every field left at None.

    ``levels``: the model's supervised pyramid levels (coarse to fine); the codec then carries
    the target sigma of exactly those levels that ``codec.level_sigmas`` (default: all of
    ``DEFAULT_LEVEL_SIGMAS``) names. A sigma for a level the model lacks is a ConfigError.
    """
    from danet_edge.codec import DEFAULT_LEVEL_SIGMAS, HeatmapCodec

    c = cfg.codec
    sigmas = dict(c.level_sigmas or DEFAULT_LEVEL_SIGMAS)
    if levels is not None:
        unknown = sorted(set(sigmas) - set(levels))
        if unknown:
            raise ConfigError(
                f"codec.level_sigmas: unknown levels {unknown}; the model has {list(levels)}"
            )
        sigmas = {lvl: float(sigmas[lvl]) for lvl in levels if lvl in sigmas}
    settings = {"padding": c.padding, "decode_mode": c.decode_mode,
                "blur_kernel": c.blur_kernel, "flip_test": c.flip_test}  # fmt: skip
    settings = {k: v for k, v in settings.items() if v is not None}
    if "heatmaps" in sigmas:
        settings["sigma"] = sigmas["heatmaps"]
    try:
        return HeatmapCodec.for_input(tuple(cfg.model.input_size), c.heatmap_stride,
                                      level_sigmas=sigmas, **settings)  # fmt: skip
    except ValueError as err:
        raise ConfigError(f"codec: {err}") from None


def dataset_tag(cfg: Config) -> str:
    """The dataset's name in the default work directory."""
    if cfg.data.name:
        tag = cfg.data.name
    elif cfg.data.annotations is None:
        tag = "synthetic"
    else:
        tag = Path(cfg.data.annotations).stem
    return re.sub(r"[^A-Za-z0-9_.]+", "_", tag).strip("_.") or "data"


def default_workdir(cfg: Config) -> Path:
    """``work_dirs/<model>_<dataset>-<H>x<W>``: two runs that differ in model, dataset or input
    size never share a default work directory (the other fields are checked on resume)."""
    h, w = cfg.model.input_size
    return Path("work_dirs") / f"{cfg.model.name}_{dataset_tag(cfg)}-{h}x{w}"


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Defaults, then the YAML file at ``path``, then ``overrides`` (``"section.field": value``).

    Raises ``ConfigError`` naming the field on an unknown key or a bad value.
    """
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of sections, got {raw!r}")
        for section_name, section in raw.items():
            if not isinstance(section, dict):
                raise ConfigError(
                    f"{path}: section {section_name!r} must be a mapping, got {section!r}"
                )
            for key, value in section.items():
                try:
                    _set_field(cfg, f"{section_name}.{key}", value)
                except ConfigError as err:
                    raise ConfigError(f"{path}: {err}") from None
    for key, value in (overrides or {}).items():
        _set_field(cfg, key, value)
    return _validate(cfg)


def parse_set_args(items: list[str]) -> dict[str, Any]:
    """``["train.epochs=3", ...]`` -> ``{"train.epochs": 3}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects section.field=value, got {item!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out
