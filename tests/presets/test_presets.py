"""The shipped presets: each file loads by name with its sha256 checked, and scores the AP on
the COCO val4 persons (ground-truth boxes) that the index documents, as Keras, float32 and
int8 files. A damaged file or a codec change that hurts a preset fails here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from danet_edge import presets
from danet_edge.metadata import read_metadata

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMES = presets.list_presets()


def test_a_default_preset_is_shipped_and_listed_first():
    import danet_tf

    assert NAMES, "no preset shipped"
    assert danet_tf.list_presets() == NAMES
    assert NAMES[0] == presets.default_preset()


@pytest.mark.parametrize("name", NAMES)
def test_index_entry_is_complete(name):
    info = presets.preset_info(name)
    for key in ("model", "input_size", "params_m", "gmacs", "training", "accuracy", "licence"):
        assert info[key], key
    assert set(info["files"]) == {"keras", "float32", "int8"}
    # The int8 file is quantized the way the index says (a user choosing between full
    # integer and float fallbacks reads it there and in the file's own metadata).
    quantization = read_metadata(presets.preset_file(name, "int8"))["quantization"]
    assert quantization["mode"] == info.get("int8_mode", "int8")
    assert quantization["weights"] == "int8 per-channel" and quantization["activations"] == "int8"
    acc = info["accuracy"]
    for key in ("val4_gt_boxes_ap", "holdout_gt_boxes_ap", "val4_detector_ap",
                "int8_agreement_mean_oks"):
        assert key in acc


def test_unknown_name_lists_the_shipped_presets():
    with pytest.raises(presets.PresetError, match=NAMES[0]):
        presets.preset_info("no_such_preset")
    with pytest.raises(presets.PresetError, match="neither a model file nor a preset"):
        presets.resolve_model("no_such_preset")
    with pytest.raises(presets.PresetError, match="does not exist"):
        presets.resolve_model("missing.tflite")


@pytest.mark.parametrize("kind", ["float32", "int8", "keras"])
def test_a_damaged_file_is_refused_by_name(kind, tmp_path):
    from danet_tf.presets import KERAS_DIR

    name = NAMES[0]
    entry = presets.preset_info(name)["files"][kind]
    source = (KERAS_DIR if kind == "keras" else presets.PRESET_DIR) / entry["file"]
    damaged = tmp_path / entry["file"]
    shutil.copyfile(source, damaged)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert presets.checked_file(name, kind, source.parent) == source
    with pytest.raises(presets.PresetError, match=f"{entry['file']} has sha256"):
        presets.checked_file(name, kind, tmp_path)


def _val4_ap(model_path, coco_sample) -> float:
    from danet_tf.evaluation import evaluate_topdown, load_eval_model

    m = load_eval_model(None, model_path)
    report = evaluate_topdown(
        m.predict_fn, coco_sample / "val4.json", coco_sample / "images",
        num_keypoints=m.num_keypoints, codec=m.codec,
        progress=False,
    )
    return float(report.metrics["AP"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["keras", "float32", "int8"])
def test_preset_scores_its_documented_val4_ap(name, kind, coco_sample):
    from danet_tf.presets import preset_keras_file

    path = preset_keras_file(name) if kind == "keras" else presets.preset_file(name, kind)
    documented = presets.preset_info(name)["accuracy"]["val4_gt_boxes_ap"][kind]
    assert _val4_ap(path, coco_sample) == pytest.approx(documented, abs=0.01)


@pytest.mark.parametrize("name", NAMES)
def test_load_preset_is_a_keras_model_that_tf_keras_reloads(name, tmp_path):
    import numpy as np
    import tensorflow as tf

    import danet_tf

    model = danet_tf.load_preset(name)
    h, w = presets.preset_info(name)["input_size"]
    assert model.input_shape[1:] == (h, w, 3)
    model.save(tmp_path / "p.keras")
    again = tf.keras.models.load_model(tmp_path / "p.keras")
    x = np.random.default_rng(0).uniform(0, 255, (1, h, w, 3)).astype("float32")
    np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def test_danet_estimate_runs_the_default_preset_without_a_model(coco_sample):
    image = coco_sample / "images" / json.loads((coco_sample / "val4.json").read_text())[
        "images"][0]["file_name"]
    proc = subprocess.run(
        [sys.executable, "-m", "danet_edge.cli", str(image), "--json", "--box", "10,10,100,200"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert Path(report["model"]["path"]) == presets.preset_file(NAMES[0])
    proc = subprocess.run(
        [sys.executable, "-m", "danet_edge.cli", str(image), "--json", "--int8", "--box",
         "10,10,100,200"], capture_output=True, text=True, timeout=300,
    )
    assert Path(json.loads(proc.stdout)["model"]["path"]) == presets.preset_file(NAMES[0], "int8")


def test_make_preset_takes_only_an_int8_mode_for_the_int8_file(tmp_path):
    from danet_tf.presets.make import PresetSpec

    paths = dict.fromkeys(("keras", "data_root", "calibration", "holdout", "val4", "val4_images"),
                          tmp_path)  # fmt: skip
    assert PresetSpec("p", int8_mode="int8-float-ew", **paths).int8_mode == "int8-float-ew"
    with pytest.raises(ValueError, match="int8_mode must be one of the int8 quantize modes, got 'fp16'"):
        PresetSpec("p", int8_mode="fp16", **paths)
