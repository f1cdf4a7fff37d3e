"""How much of a DANet's first gradient lies under Adam's epsilon, at a few target scales.

Adam's first step moves a parameter by ``lr * g / (|g| + e1)``: the full ``lr`` when
``|g| >> e1``, only ``lr * |g| / e1`` when ``|g| << e1``. ``e1`` is the epsilon's size at step
1: ``epsilon`` itself in the PyTorch / MegEngine form, ``epsilon / sqrt(1 - beta_2)`` =
31.6 x ``epsilon`` in Keras's, which adds epsilon to the square root of the *uncorrected*
second moment (it tends to ``epsilon`` over the first few thousand steps). At initialisation
the heads predict about 0, so the loss gradient scales with the target peak (``target_scale``):
the peak decides how many parameters Adam damps.

``python -m danet_tf.training.gradient_floor --data ANN.json [--images DIR]`` builds the model
with the seed of the config, draws one augmented training batch through the real input
pipeline, and prints, per target scale, the fraction of the trainable scalars whose gradient
magnitude lies below each threshold.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from danet_tf.config import Config, load_config
from danet_tf.data.targets import encode_heatmaps
from danet_tf.training.losses import pose_loss
from danet_tf.training.trainer import default_model_builder, resolve_level_weights, run_codec

KERAS_STEP1 = 1.0 / math.sqrt(1.0 - 0.999)  # Keras's epsilon at step 1, in textbook units
# MegEngine's default 1e-8; Keras's default 1e-7 late and at step 1; Keras 1e-8 at step 1.
THRESHOLDS = (1e-8, 1e-7, 1e-8 * KERAS_STEP1, 1e-7 * KERAS_STEP1)


def first_gradients(cfg: Config, model: keras.Model, images: tf.Tensor, keypoints: tf.Tensor,
                    target_scale: float) -> np.ndarray:
    """|gradient| of every trainable scalar for one batch, with the training loss of ``cfg``."""
    codec = run_codec(cfg)
    levels = tuple(codec.level_sigmas)
    targets = encode_heatmaps(keypoints, codec)
    with tf.GradientTape() as tape:
        outputs = model(tf.cast(images, tf.float32), training=True)
        terms = pose_loss(targets, outputs, levels, resolve_level_weights(cfg, levels),
                          cfg.train.ohkm_weight, cfg.train.ohkm_ratio, target_scale,
                          coarse_visible_only=cfg.train.loss == "authors")  # fmt: skip
        loss = tf.reduce_mean(terms["loss"])
    grads = tape.gradient(loss, model.trainable_variables)
    return np.concatenate([np.abs(g.numpy()).ravel() for g in grads if g is not None])


def measure(cfg: Config, images: tf.Tensor, keypoints: tf.Tensor, scales: Sequence[float],
            thresholds: Sequence[float] = THRESHOLDS) -> list[dict[str, float]]:
    """One row per scale: ``{"scale", "median", <threshold>: fraction below, ...}``."""
    keras.utils.set_random_seed(cfg.runtime.seed)
    model = default_model_builder(cfg, int(keypoints.shape[1]))
    rows = []
    for scale in scales:
        mags = first_gradients(cfg, model, images, keypoints, scale)
        row = {"scale": float(scale), "median": float(np.median(mags))}
        row |= {f"{t:.3g}": float(np.mean(mags < t)) for t in thresholds}
        rows.append(row)
    return rows


def training_batch(cfg: Config, batch: int) -> tuple[tf.Tensor, tf.Tensor]:
    """One augmented batch of (uint8 crops, keypoints) from the training pipeline of ``cfg``."""
    from danet_tf.data import build_dataset, load_coco

    data = load_coco(cfg.data.annotations, cfg.data.images, min_box_area=cfg.data.min_box_area)
    ds = build_dataset(data, batch_size=batch, codec=run_codec(cfg),
                       seed=cfg.runtime.seed, encode_targets=False, image_dtype=tf.uint8,
                       rotation=cfg.data.rotation,
                       scale_range=tuple(cfg.data.scale_range), flip=cfg.data.flip,
                       half_body_prob=cfg.data.half_body_prob,
                       half_body_upper_prob=cfg.data.half_body_upper_prob)  # fmt: skip
    images, targets = next(iter(ds))
    return images, targets["keypoints"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="COCO keypoint json of training persons")
    p.add_argument("--images", help="image directory (default: next to the json)")
    p.add_argument("--model", default="danet72")
    p.add_argument("--input-size", default="256x192")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 30.0, 255.0])
    p.add_argument("--loss", default="authors", choices=("authors", "danet_tf"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    cfg = load_config(None, {"model.name": args.model, "model.input_size": args.input_size,
                             "data.annotations": args.data, "data.images": args.images or "",
                             "train.loss": args.loss, "runtime.seed": args.seed})  # fmt: skip
    if not args.images:
        cfg.data.images = None
    images, keypoints = training_batch(cfg, args.batch)
    rows = measure(cfg, images, keypoints, args.scales)
    names = [k for k in rows[0] if k not in ("scale", "median")]
    print(f"{args.model} {args.input_size}, loss {args.loss}, {args.batch} crops, seed {args.seed}")
    print("scale   median|g|  " + "  ".join(f"<{n:>8}" for n in names))
    for r in rows:
        print(f"{r['scale']:5g}  {r['median']:9.3g}  " +
              "  ".join(f"{100 * r[n]:8.2f}%" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
