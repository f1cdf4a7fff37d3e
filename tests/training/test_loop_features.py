"""Keras callbacks in the loop, validation data checked at start, COCO AP or PCK on real data."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from danet_tf.codec import HeatmapCodec
from danet_tf.config import load_config
from danet_tf.training import train
from danet_tf.training.inputs import DataCheckError
from tests.training.standin import LEVELS, random_inputs, standin_inference, standin_model


class Recorder(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple] = []

    def on_train_begin(self, logs=None):
        self.events.append(("begin",))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch", epoch, dict(logs)))
        self.model.stop_training = True  # as EarlyStopping does

    def on_train_end(self, logs=None):
        self.events.append(("end",))


def test_keras_callbacks_see_every_step_and_can_stop_the_run(tmp_path):
    cfg = load_config(None, {
        "runtime.workdir": str(tmp_path / "run"), "runtime.verbose": 0,
        "model.input_size": "64x32", "train.epochs": 3, "train.steps_per_epoch": 3,
        "train.global_batch_size": 4, "train.val_samples": 0,
    })
    recorder = Recorder()
    csv_log = tmp_path / "keras_csv.csv"
    result = train(cfg, inputs=random_inputs(size=(64, 32)), model_builder=standin_model,
                   levels=LEVELS, inference_fn=standin_inference,
                   callbacks=[recorder, keras.callbacks.CSVLogger(str(csv_log))])
    kinds = [e[0] for e in recorder.events]
    assert kinds == ["begin", "batch", "batch", "batch", "epoch", "end"]
    assert [e[1] for e in recorder.events if e[0] == "batch"] == [0, 1, 2]
    assert {"loss", "lr", "loss_heatmaps", "loss_ohkm"} <= set(recorder.events[1][2])
    epoch_logs = recorder.events[4][2]
    assert np.isfinite(epoch_logs["loss"]) and "lr" in epoch_logs
    assert result.step == 3  # stopped after the first epoch of three
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_by_callback"] is True and summary["step"] == 3
    assert (tmp_path / "run" / "checkpoints" / "ckpt-3.index").is_file()
    assert "loss" in csv_log.read_text().splitlines()[0]  # Keras' own CSVLogger ran


def _real_cfg(tmp_path: Path, coco: Path, val_ann: Path, val_images: Path, **extra):
    return load_config(None, {
        "data.annotations": str(coco / "train.json"), "data.images": str(coco / "images"),
        "data.val_annotations": str(val_ann), "data.val_images": str(val_images),
        "model.name": "danet_tiny", "model.input_size": "64x64",
        "runtime.workdir": str(tmp_path / "run"), "runtime.verbose": 0,
        "train.epochs": 1, "train.steps_per_epoch": 2, "train.global_batch_size": 4,
        "train.val_samples": 14, "train.overlay_samples": 2, **extra,
    })


def test_unreadable_validation_images_fail_at_start(tmp_path, coco_sample):
    empty = tmp_path / "no_images"
    empty.mkdir()
    cfg = _real_cfg(tmp_path, coco_sample, coco_sample / "val4.json", empty)
    with pytest.raises(DataCheckError, match="data.val_images: none of the 4 validation images"):
        train(cfg)
    assert not (tmp_path / "run" / "checkpoints").exists()


def _renamed(src: Path, dest: Path) -> Path:
    data = json.loads(src.read_text())
    for cat in data["categories"]:
        cat["keypoints"] = [f"joint_{i}" for i in range(len(cat["keypoints"]))]
    dest.write_text(json.dumps(data))
    return dest


def test_coco_ap_on_real_val_annotations(tmp_path, coco_sample):
    """COCO keypoints -> AP through pycocotools on ground-truth boxes; the same persons
    under joint names without OKS sigmas -> PCK; the subset file for val_samples."""
    from danet_tf.data import load_coco
    from danet_tf.training.validation import coco_ap, is_coco_keypoints, val_subset

    val = load_coco(coco_sample / "val4.json", coco_sample / "images")
    assert is_coco_keypoints(val.keypoint_info)
    renamed = _renamed(coco_sample / "val4.json", tmp_path / "renamed.json")
    assert not is_coco_keypoints(load_coco(renamed, coco_sample / "images").keypoint_info)
    assert val_subset(str(coco_sample / "val4.json"), 100, tmp_path / "s.json") == str(
        coco_sample / "val4.json")
    sub = val_subset(str(coco_sample / "val4.json"), 3, tmp_path / "s.json")
    sub_data = json.loads(Path(sub).read_text())
    assert 0 < len(sub_data["images"]) < 4
    image = keras.Input((64, 64, 3))
    zeros = keras.layers.Conv2D(17, 4, strides=4, kernel_initializer="zeros", name="heatmaps")(
        image)
    metrics, skipped = coco_ap(keras.Model(image, zeros), str(coco_sample / "val4.json"),
                               str(coco_sample / "images"), 17, HeatmapCodec.for_input((64, 64)))
    assert set(metrics) == {"val_AP", "val_AP50", "val_AR"} and skipped == {}
    assert 0.0 <= metrics["val_AP"] < 0.2  # constant heatmaps: (near) nothing is right
