"""danet-label: human labels kept, teacher fills only unlabelled joints, held-out images kept
out, unlabelled photos labelled by the detector and the teacher; the output trains."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def labelled(teacher_file, data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("labels")
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "pseudo_label.py"), "--data", str(data_root),
         "--output", str(out / "train.json"), "--val-output", str(out / "val.json"),
         "--limit", "6", "--holdout", "1-2", "--teacher-file", str(teacher_file)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (json.loads((out / "train.json").read_text()), json.loads((out / "val.json").read_text()),
            out)


def _human(data_root):
    lspet = json.loads((data_root / "lspet" / "train_coco17.json").read_text())
    return {f"lspet/images/{im['file_name']}": a for im in lspet["images"]
            for a in lspet["annotations"] if a["image_id"] == im["id"] and im["id"] <= 6}


def test_human_labels_kept_and_only_unlabelled_joints_filled(labelled, data_root):
    train, _, _ = labelled
    human = _human(data_root)
    files = {im["id"]: im["file_name"] for im in train["images"]}
    lspet = [a for a in train["annotations"] if a["source"] == "lspet"]
    assert len(lspet) == 4  # images 3-6; 1-2 held out
    filled_any = False
    for ann in lspet:
        ours = np.reshape(ann["keypoints"], (17, 3))
        theirs = np.reshape(human[files[ann["image_id"]]]["keypoints"], (17, 3))
        labelled_by_people = theirs[:, 2] > 0
        np.testing.assert_allclose(ours[labelled_by_people], theirs[labelled_by_people], atol=0.006)
        filled = ann["teacher"]["joints"]
        assert not labelled_by_people[filled].any()
        assert (ours[filled, 2] == 2).all()
        assert (ours[~labelled_by_people & ~np.isin(np.arange(17), filled), 2] == 0).all()
        scores = np.asarray(ann["teacher"]["score"])
        assert len(scores) == 17 and (scores[filled] >= 0.5).all()
        filled_any |= bool(filled)
    assert filled_any  # LSPET has no face labels: the teacher gives some


def test_info_names_the_teacher_and_the_counts(labelled, teacher_file):
    from danet_tf.detector.fetch import sha256_file

    train, _, _ = labelled
    info = train["info"]
    assert info["teacher"]["sha256"] == sha256_file(teacher_file)
    assert info["teacher"]["threshold"] == 0.5
    assert info["holdout"] == {"lspet": [1, 2]}
    assert info["counts"]["lspet"]["held-out persons"] == 2
    assert sum(c.get("persons", 0) for c in info["counts"].values()) == len(train["annotations"])


def test_holdout_only_in_the_validation_file(labelled):
    train, val, _ = labelled
    names = {im["file_name"] for im in train["images"]}
    held = {im["file_name"] for im in val["images"]}
    assert held == {"lspet/images/im00001.jpg", "lspet/images/im00002.jpg"}
    assert not names & held
    assert all("teacher" not in a for a in val["annotations"])  # human labels only


def test_unlabelled_photos_get_detector_boxes_and_teacher_joints(labelled):
    train, _, _ = labelled
    mpii = [a for a in train["annotations"] if a["source"] == "mpii"]
    assert mpii
    for ann in mpii:
        k = np.reshape(ann["keypoints"], (17, 3))
        assert sorted(ann["teacher"]["joints"]) == list(np.flatnonzero(k[:, 2] > 0))
        assert len(ann["teacher"]["joints"]) >= 8
        assert ann["bbox"][3] >= 48 and 0.5 <= ann["detector_score"] <= 1


def test_the_labels_load_with_the_training_reader(labelled, data_root):
    from danet_tf.data.coco import load_coco

    _, _, out = labelled
    dataset = load_coco(out / "train.json", data_root)
    train, _, _ = labelled
    assert len(dataset) == len(train["annotations"])
    assert len({a["id"] for a in train["annotations"]}) == len(train["annotations"])
