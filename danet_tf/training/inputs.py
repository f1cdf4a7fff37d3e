"""What the training loop needs from the data side, and how the config builds it.

The loop only sees :class:`TrainInputs`: the keypoint count, the number of training
samples (to size an epoch) and two dataset factories. Tests can hand the loop a stand-in
built from random tensors; :func:`build_inputs` builds the real one from the config through
the COCO reader and the tf.data pipeline of ``danet_tf.data``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf

from danet_edge.codec import HeatmapCodec
from danet_tf.config import Config

# (per-replica batch, seed, number of input pipelines, this pipeline's index, samples this
# pipeline has already served (resume)) -> an endless, batched dataset of (images, targets):
# uint8 or float32 images; targets either {level: heatmaps, "weights": ..., "visible": ...}
# or {"keypoints": (B, K, 3), "weights": weights}, which the train step renders into
# heatmaps (what `build_inputs` makes).
TrainFactory = Callable[[int, int, int, int, int], tf.data.Dataset]
# batch -> a finite, unaugmented dataset of (images, targets, keypoints (B, K, 3) in crop pixels).
ValFactory = Callable[[int], tf.data.Dataset]


@dataclasses.dataclass
class TrainInputs:
    num_keypoints: int
    num_train_samples: int
    make_train: TrainFactory
    make_val: ValFactory | None = None
    keypoint_info: Any = None
    description: str = ""
    # split ("train", "val") -> the pipeline's SkipCounter (by_reason counts), when known.
    skip_counters: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The validation annotation file and image folder (COCO AP needs the file) and its
    # keypoint layout (OKS sigmas decide COCO AP against PCK).
    val_annotations: str | None = None
    val_images: str | None = None
    val_keypoint_info: Any = None


class DataCheckError(ValueError):
    """A data set that cannot be used, found at start; the message names the config field."""


# Image files read at start per split to catch a set that cannot be read at all.
PROBE_IMAGES = 16


def probe_images(dataset: Any, split: str, field_name: str, limit: int = PROBE_IMAGES) -> None:
    """Read up to ``limit`` distinct image files spread over ``dataset``; raise ``ValueError``
    naming the split's config field when none of them can be read (a warning line when some
    cannot)."""
    from danet_tf.data.images import read_image

    paths = list(dict.fromkeys(s.image_path for s in dataset.samples))
    if not paths:
        return
    stride = max(1, len(paths) // limit)
    chosen = paths[::stride][:limit]
    bad = {}
    for path in chosen:
        image, why = read_image(path)
        if image is None:
            bad[path] = why
    if len(bad) == len(chosen):
        listing = "; ".join(f"{p}: {w}" for p, w in list(bad.items())[:3])
        raise DataCheckError(
            f"{field_name}: none of the {len(chosen)} {split} images probed at start can be "
            f"read ({listing}); check the image folder")
    if bad:
        print(f"warning: {len(bad)} of {len(chosen)} {split} images probed at start cannot be "
              f"read, e.g. {next(iter(bad))}: {next(iter(bad.values()))}", flush=True)


def default_synthetic_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "danet_tf" / "synthetic"


def synthetic_paths(cfg: Config) -> dict[str, Path]:
    """Generate (once) the embedded default dataset and return its train/val files."""
    from danet_tf.data import synthetic

    root = Path(cfg.data.synthetic_dir) if cfg.data.synthetic_dir else default_synthetic_dir()
    # One directory per parameter set: runs with other sizes never re-render a shared one.
    root = root / (f"v{synthetic.VERSION}-{cfg.data.synthetic_train_images}-"
                   f"{cfg.data.synthetic_val_images}-s{cfg.runtime.seed}")
    return synthetic.generate(
        root,
        num_train=cfg.data.synthetic_train_images,
        num_val=cfg.data.synthetic_val_images,
        seed=cfg.runtime.seed,
    )


def build_inputs(cfg: Config, codec: HeatmapCodec) -> TrainInputs:
    """Readers + tf.data pipelines for the config's data section, cropping and encoding with
    the run's ``codec`` (`danet_tf.training.trainer.run_codec`)."""
    from danet_tf.data import build_dataset, load_coco
    from danet_tf.data.images import SkipCounter

    if cfg.data.annotations is None:
        paths = synthetic_paths(cfg)
        train_ann, train_img = paths["train_annotations"], paths["train_images"]
        val_ann, val_img = paths.get("val_annotations"), paths.get("val_images")
        description = f"synthetic dataset in {paths['root']}"
    else:
        train_ann, train_img = cfg.data.annotations, cfg.data.images
        val_ann, val_img = cfg.data.val_annotations, cfg.data.val_images
        description = str(train_ann)
    train_set = load_coco(train_ann, train_img, num_keypoints=cfg.model.num_keypoints,
                          min_box_area=cfg.data.min_box_area)
    if len(train_set) == 0:
        raise ValueError(f"data.annotations: {str(train_ann)!r} has no usable person")
    val_set = load_coco(val_ann, val_img, num_keypoints=train_set.num_keypoints) \
        if val_ann is not None else None
    probe_images(train_set, "training", "data.images")
    if val_set is not None and len(val_set) and cfg.train.val_samples:
        probe_images(val_set, "validation", "data.val_images")
    counters = {"train": SkipCounter(), "val": SkipCounter()}
    common = dict(codec=codec)
    aug = dict(
        rotation=cfg.data.rotation,
        scale_range=tuple(cfg.data.scale_range),
        flip=cfg.data.flip,
        half_body_prob=cfg.data.half_body_prob,
        half_body_upper_prob=cfg.data.half_body_upper_prob,
    )

    def make_train(batch: int, seed: int, num_shards: int, shard: int, start: int
                   ) -> tf.data.Dataset:
        return build_dataset(
            train_set, batch_size=batch, training=True, seed=seed, repeat=True, start=start,
            num_shards=num_shards, shard_index=shard,
            encode_targets=False, image_dtype=tf.uint8,  # the train step casts and renders
            with_serial=True,  # the stream position each checkpoint records
            skip_counter=counters["train"], **common, **aug,
        )

    def make_val(batch: int) -> tf.data.Dataset:
        return build_dataset(
            val_set, batch_size=batch, training=False, repeat=False, with_keypoints=True,
            skip_counter=counters["val"], **common,
        )

    return TrainInputs(
        num_keypoints=train_set.num_keypoints,
        num_train_samples=len(train_set),
        make_train=make_train,
        make_val=make_val if val_set is not None and len(val_set) else None,
        keypoint_info=train_set.keypoint_info,
        description=description,
        skip_counters=counters,
        val_annotations=None if val_set is None else str(val_ann),
        val_images=None if val_set is None else str(val_img),
        val_keypoint_info=None if val_set is None else val_set.keypoint_info,
    )
