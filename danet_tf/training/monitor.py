"""What the chief watches at each epoch's end: validation (COCO AP or PCK), ``best.keras``,
skipped-sample counts and the prediction pictures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from danet_tf.atomic import atomic_write_text
from danet_tf.codec import HeatmapCodec
from danet_tf.config import Config
from danet_tf.training.final import unscaled_inference_model, write_final
from danet_tf.training.inputs import TrainInputs
from danet_tf.training.logs import TrainLogger
from danet_tf.training.metrics import pck
from danet_tf.training.pictures import overlay_grid, write_curves, write_png
from danet_tf.training.validation import AP_KEY, BestTracker, coco_ap, is_coco_keypoints, val_subset

PCK_ALPHA = 0.05


class Monitor:
    """Validation, best.keras, skipped-sample counts and pictures of the chief (no-op
    elsewhere)."""

    def __init__(self, cfg: Config, codec: HeatmapCodec, inputs: TrainInputs, model: keras.Model,
                 inference_fn: Callable[[keras.Model], keras.Model],
                 levels: tuple[str, ...], workdir: Path, logger: TrainLogger, start_step: int,
                 steps_per_epoch: int, enabled: bool) -> None:
        self.cfg, self.inputs, self.model, self.levels = cfg, inputs, model, levels
        self.codec = codec
        self.workdir, self.logger, self.enabled = workdir, logger, enabled
        self.coco = False
        self.metric: str | None = None
        self.val_ann: str | None = None
        self.crops = None
        self._inference_fn = inference_fn
        self._infer = None
        self._snap: dict[str, dict[str, int]] = {}
        self._val_skips: dict[str, int] = {}
        start_epoch = start_step // steps_per_epoch
        # Skips by epoch survive resumes in summary.json (epochs after the restored one are
        # redone, so their counts are dropped).
        self.by_epoch: dict[str, dict[str, dict[str, int]]] = {}
        old = workdir / "summary.json"
        if enabled and old.is_file():
            try:
                prev = json.loads(old.read_text()).get("skipped_by_epoch", {})
                self.by_epoch = {e: v for e, v in prev.items() if int(e) <= start_epoch}
            except (ValueError, AttributeError):
                self.by_epoch = {}
        if not enabled:
            self.best = BestTracker(workdir, None)
            return
        has_val = inputs.make_val is not None and cfg.train.val_samples > 0
        if has_val:
            self.coco = bool(inputs.val_annotations) and is_coco_keypoints(
                inputs.val_keypoint_info)
            self.metric = AP_KEY if self.coco else f"val_pck@{PCK_ALPHA:g}"
            if self.coco:
                self.val_ann = val_subset(inputs.val_annotations, cfg.train.val_samples,
                                          workdir / "val_subset.json")
        self.best = BestTracker(workdir, self.metric)
        if inputs.make_val is not None and cfg.train.overlay_samples:
            for images, _, keypoints in inputs.make_val(cfg.train.overlay_samples):
                self.crops = (np.asarray(images, np.float32), keypoints.numpy())
                break

    def inference(self) -> keras.Model:
        """The single-output model (unscaled heatmaps) sharing the training model's layers."""
        if self._infer is None:
            infer = self._inference_fn(self.model)
            if self.cfg.train.target_scale != 1.0:
                infer = unscaled_inference_model(infer, self.cfg.train.target_scale)
            self._infer = infer
        return self._infer

    def start_epoch(self) -> None:
        self._snap = {k: c.by_reason for k, c in self.inputs.skip_counters.items()}
        self._val_skips = {}

    def validate(self, epoch: int, step: int) -> dict[str, float]:
        if not self.enabled or self.metric is None:
            return {}
        if self.coco:
            vals, self._val_skips = coco_ap(
                self.inference(), self.val_ann, self.inputs.val_images,
                self.inputs.num_keypoints, self.codec)
            return vals
        return evaluate_pck(self.model, self.inputs, self.cfg, self.levels[-1], self.codec)

    def epoch_skips(self, epoch: int) -> dict[str, dict[str, int]] | None:
        if not self.enabled:
            return None
        out: dict[str, dict[str, int]] = {}
        for split, counter in self.inputs.skip_counters.items():
            before = self._snap.get(split, {})
            now = counter.by_reason
            out[split] = {r: n - before.get(r, 0) for r, n in now.items() if n > before.get(r, 0)}
        if self._val_skips:
            val = out.setdefault("val", {})
            for r, n in self._val_skips.items():
                val[r] = val.get(r, 0) + n
        out.setdefault("train", {})
        self.by_epoch[str(epoch + 1)] = out
        return out

    def end_epoch(self, epoch: int, step: int, logs: dict[str, float], builder, num_keypoints
                  ) -> None:
        if not self.enabled:
            return
        value = logs.get(self.metric) if self.metric else None
        if self.best.improves(value):
            write_final(self.cfg, self.codec, self.model, builder, self._inference_fn,
                         num_keypoints, self.workdir, name="best.keras",
                         keypoints=self.inputs.keypoint_info)
            self.best.record(value, epoch + 1, step)
        if self.crops is not None:
            self._overlay(epoch, step)
        try:
            write_curves(self.workdir, self.metric)
        except Exception as err:  # noqa: BLE001 - a picture must not end a long run
            print(f"warning: curves.png not updated: {type(err).__name__}: {err}", flush=True)
        atomic_write_text(self.workdir / "summary.json", json.dumps(
            {"step": step, "epoch": epoch + 1, "logs": logs, **self.summary()}, indent=1))

    def _overlay(self, epoch: int, step: int) -> None:
        images, keypoints = self.crops
        heatmaps = np.asarray(self.inference()([images], training=False), np.float32)
        coords, _ = self.codec.decode(heatmaps)
        info = self.inputs.val_keypoint_info or self.inputs.keypoint_info
        skeleton = tuple(getattr(info, "skeleton", ()) or ())
        grid = overlay_grid(images, keypoints, np.asarray(coords), skeleton)
        write_png(self.workdir / "predictions" / f"epoch_{epoch + 1:03d}.png", grid)
        self.logger.image(step, "val/predictions", grid)

    def summary(self) -> dict:
        totals: dict[str, dict[str, int]] = {}
        for per_split in self.by_epoch.values():
            for split, reasons in per_split.items():
                dest = totals.setdefault(split, {})
                for r, n in reasons.items():
                    dest[r] = dest.get(r, 0) + n
        return {"validation_metric": self.metric, "best": self.best.best,
                "skipped_samples": totals, "skipped_by_epoch": self.by_epoch}


def evaluate_pck(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str,
                 codec: HeatmapCodec, alpha: float = PCK_ALPHA) -> dict[str, float]:
    """PCK@alpha (of the crop's longer side) on up to ``train.val_samples`` validation crops,
    decoded as the run's ``codec`` decodes."""
    preds, gts, vis = predict_val(model, inputs, cfg, level, codec)
    if not len(preds):
        return {}
    threshold = alpha * max(codec.input_size)
    return {f"val_pck@{alpha:g}": pck(preds, gts, vis, threshold)}


def predict_val(model: keras.Model, inputs: TrainInputs, cfg: Config, level: str,
                codec: HeatmapCodec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded predictions (the codec's decoder), ground truth and visibility on the
    validation crops."""
    preds, gts, vis = [], [], []
    seen = 0
    for images, _, keypoints in inputs.make_val(max(1, min(32, cfg.train.val_samples))):
        heatmaps = model(images, training=False)
        if isinstance(heatmaps, dict):
            heatmaps = heatmaps[level]
        coords, _ = codec.decode(np.asarray(heatmaps, np.float32))
        kp = keypoints.numpy()
        preds.append(coords)
        gts.append(kp[..., :2])
        vis.append(kp[..., 2])
        seen += len(kp)
        if seen >= cfg.train.val_samples:
            break
    if not preds:
        return np.zeros((0,)), np.zeros((0,)), np.zeros((0,))
    n = cfg.train.val_samples
    return (np.concatenate(preds)[:n], np.concatenate(gts)[:n], np.concatenate(vis)[:n])
