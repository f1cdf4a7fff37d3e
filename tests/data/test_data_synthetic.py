"""The embedded synthetic dataset: fast, deterministic, idempotent, readable as COCO."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from danet_tf.data import load_coco
from danet_tf.data.figure import JOINT_COLOURS
from danet_tf.data.synthetic import generate


def test_generate_reads_as_coco(tmp_path: Path):
    start = time.perf_counter()
    paths = generate(tmp_path / "a", num_train=40, num_val=8, seed=0)
    assert time.perf_counter() - start < 5.0
    train = load_coco(paths["train_annotations"], paths["train_images"])
    val = load_coco(paths["val_annotations"], paths["val_images"])
    assert len(train) >= 40 and len(val) >= 8
    assert train.keypoint_info.flip_pairs[0] == (1, 2) and train.keypoint_info.sigmas
    vis = np.stack([s.keypoints[:, 2] for s in train.samples])
    # Visible, occluded and unlabelled joints all occur.
    assert (vis == 2).mean() > 0.5 and (vis == 1).any() and (vis == 0).any()
    data = json.loads(paths["train_annotations"].read_text())
    assert {img["height"] for img in data["images"]} == {240}
    assert max(np.bincount([a["image_id"] for a in data["annotations"]])) > 1


def test_deterministic_and_idempotent(tmp_path: Path):
    a = generate(tmp_path / "a", num_train=6, num_val=2, seed=5)
    b = generate(tmp_path / "b", num_train=6, num_val=2, seed=5)
    c = generate(tmp_path / "c", num_train=6, num_val=2, seed=6)
    assert a["train_annotations"].read_bytes() == b["train_annotations"].read_bytes()
    assert a["train_annotations"].read_bytes() != c["train_annotations"].read_bytes()
    img = "train_000003.jpg"
    assert (a["train_images"] / img).read_bytes() == (b["train_images"] / img).read_bytes()
    mtime = a["train_annotations"].stat().st_mtime_ns
    again = generate(tmp_path / "a", num_train=6, num_val=2, seed=5)
    assert again == a and a["train_annotations"].stat().st_mtime_ns == mtime
    changed = generate(tmp_path / "a", num_train=7, num_val=2, seed=5)
    assert len(json.loads(changed["train_annotations"].read_text())["images"]) == 7


def test_visible_joints_wear_their_colour(tmp_path: Path):
    paths = generate(tmp_path, num_train=20, num_val=0, seed=1)
    ds = load_coco(paths["train_annotations"], paths["train_images"])
    hits = total = 0
    for s in ds.samples:
        image = cv2.imread(s.image_path).astype(int)
        for j in np.flatnonzero(s.keypoints[:, 2] == 2):
            x, y = np.round(s.keypoints[j, :2]).astype(int)
            total += 1
            hits += int(np.abs(image[y, x] - JOINT_COLOURS[j]).max() < 60)
    assert total > 200 and hits / total > 0.9
