"""Broken artifacts and exceeded bounds fail loudly and leave nothing behind."""

from __future__ import annotations

import numpy as np
import pytest

from danet_tf.atomic import atomic_path
from danet_tf.codec import HeatmapCodec
from danet_tf.export import ExportVerificationError, export_model, read_metadata
from danet_tf.export.api import mode_name
from danet_tf.export.metadata import sidecar_path, write_sidecar
from danet_tf.export.runners import keras_predict
from danet_tf.export.verify import Bounds, verify


def test_exceeded_bound_raises_and_writes_nothing(tiny_model, crop_sets, tmp_path):
    _, verification = crop_sets
    out = tmp_path / "m.tflite"
    with pytest.raises(ExportVerificationError, match=r"exceeds the bounds of mode 'tflite-fp16'"):
        export_model(tiny_model, out, "tflite", verification, quantize="fp16",
                     bounds=Bounds(max_heatmap_diff=0.0, mean_keypoint_px=0.0))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_shifted_heatmaps_fail_verification(tiny_model, crop_sets):
    _, crops = crop_sets
    reference = keras_predict(tiny_model)(crops.images)
    codec = HeatmapCodec((64, 64), (16, 16))

    def broken(images):
        return np.roll(keras_predict(tiny_model)(images), 3, axis=2)

    with pytest.raises(ExportVerificationError, match="max heatmap diff"):
        verify(reference, broken, crops, codec, "onnx", "broken.onnx")


def test_unrunnable_artifact_raises(tiny_model, crop_sets, tmp_path):
    from danet_tf.export.runners import load_predict

    _, crops = crop_sets
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    reference = keras_predict(tiny_model)(crops.images)
    with pytest.raises(ExportVerificationError, match="cannot run the artifact"):
        verify(reference, lambda x: load_predict(bad)(x), crops, HeatmapCodec((64, 64), (16, 16)),
               "onnx", str(bad))  # fmt: skip


def test_nan_heatmaps_raise(tiny_model, crop_sets):
    _, crops = crop_sets
    reference = keras_predict(tiny_model)(crops.images)
    with pytest.raises(ExportVerificationError, match="non-finite"):
        verify(reference, lambda x: reference * np.nan, crops, HeatmapCodec((64, 64), (16, 16)),
               "tflite", "nan.tflite")  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "quantize", "qat", "match"),
    [
        ("onnx", "int8", 0, "TFLite-only"),
        ("tflite", "int4", 0, "unknown quantize mode 'int4'"),
        ("pt", "none", 0, "unknown format 'pt'"),
        ("tflite", "fp16", 2, "QAT writes an int8 model"),
    ],
)
def test_bad_modes_name_the_value(fmt, quantize, qat, match):
    with pytest.raises(ValueError, match=match):
        mode_name(fmt, quantize, qat)


def test_int8_without_calibration_is_refused(tiny_model, crop_sets, tmp_path):
    _, verification = crop_sets
    with pytest.raises(ValueError, match="calibration"):
        export_model(tiny_model, tmp_path / "q.tflite", "tflite", verification, quantize="int8")


def test_atomic_path_keeps_old_artifact_on_failure(tmp_path):
    target = tmp_path / "sm"
    target.mkdir()
    (target / "old").write_text("v1")
    with pytest.raises(RuntimeError), atomic_path(target, directory=True) as tmp:
        tmp.mkdir()
        raise RuntimeError("conversion failed")
    assert (target / "old").read_text() == "v1"
    with atomic_path(target, directory=True) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("v2")
    assert [p.name for p in target.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


def test_metadata_errors(tmp_path):
    from danet_edge.metadata import MetadataError

    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_metadata(tmp_path / "m.onnx")
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(MetadataError, match="m.onnx has no DANet metadata"):
        read_metadata(tmp_path / "m.onnx")
    write_sidecar(tmp_path / "m.onnx", {"schema": "other/0"})
    with pytest.raises(MetadataError, match="schema 'other/0'"):
        read_metadata(tmp_path / "m.onnx")
    sidecar_path(tmp_path / "m.onnx").write_text("{not json")
    with pytest.raises(MetadataError, match="m.onnx.json: DANet metadata is not valid JSON"):
        read_metadata(tmp_path / "m.onnx")


def test_unverified_artifact_is_written_only_when_allowed_and_marked(tiny_model, crop_sets, tmp_path, capsys):
    from danet_edge.topdown import TopDownPredictor

    calibration, verification = crop_sets
    strict = Bounds(max_heatmap_diff=0.0, mean_keypoint_px=0.0)
    out = tmp_path / "m_int8.tflite"
    with pytest.raises(ExportVerificationError):
        export_model(tiny_model, out, "tflite", verification, quantize="int8",
                     calibration=calibration, bounds=strict)  # fmt: skip
    assert not out.exists()
    result = export_model(tiny_model, out, "tflite", verification, quantize="int8",
                          calibration=calibration, bounds=strict, allow_unverified=True,
                          sidecar=True)  # fmt: skip
    assert not result.verified and "UNVERIFIED" in capsys.readouterr().err
    meta = read_metadata(out)
    assert meta["verification"]["passed"] is False and "exceeds the bounds" in meta["verification"]["failure"]
    assert result.sidecar == sidecar_path(out) and result.sidecar.is_file()
    TopDownPredictor.from_file(out)
    assert "FAILED verification" in capsys.readouterr().err


def test_savedmodel_replacement_swaps_in_one_step(tmp_path, monkeypatch):
    import os

    from danet_tf import atomic

    target = tmp_path / "sm"
    target.mkdir()
    (target / "old").write_text("v1")
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: renames.append((a, b)) or real_replace(a, b))
    with atomic_path(target, directory=True) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("v2")
    assert [p.name for p in target.iterdir()] == ["new"]
    assert renames == []  # renameat2(RENAME_EXCHANGE): never a moment without the directory


def test_killed_exports_scratch_is_removed_by_the_next(tmp_path):
    import os

    from danet_tf.atomic import SCRATCH

    root = tmp_path / SCRATCH
    dead = root / "999999999-abc"
    alive = root / f"{os.getppid()}-def"
    dead.mkdir(parents=True)
    alive.mkdir()
    (dead / "m.tflite").write_bytes(b"half")
    with atomic_path(tmp_path / "m.tflite") as tmp:
        tmp.write_bytes(b"whole")
    assert not dead.exists() and alive.exists()
    assert (tmp_path / "m.tflite").read_bytes() == b"whole"


def test_keypoints_are_compared_on_confident_joints_only(tiny_model, crop_sets):
    from danet_tf.export.verify import compare

    _, crops = crop_sets
    codec = HeatmapCodec((64, 64), (16, 16), sigma=1.0)
    # The random-weight model is confident nowhere: only the heatmaps are checked, and said so.
    reference = keras_predict(tiny_model)(crops.images)
    weak = compare(reference, reference, crops, codec, "onnx", "weak.onnx")
    assert weak.ok and weak.mean_keypoint_px is None and weak.confident_joints == 0
    assert "keypoint agreement is not measured" in str(weak)
    # Peaked maps on 5 joints per crop, flat elsewhere; the candidate moves every peak 1 cell.
    peaks = np.zeros((len(crops), 16, 16, 17), np.float32)
    for i in range(len(crops)):
        for j in range(5):
            peaks[i, ..., j] = codec.encode(np.array([[20.0 + 4 * j, 30.0, 2.0]]))[0][..., 0]
    peaks[..., 5:] = 0.01
    shifted = np.roll(peaks, 1, axis=2)
    report = compare(peaks, shifted, crops, codec, "onnx", "x.onnx", decode="shift")
    assert report.confident_joints == 5 * len(crops)
    assert report.mean_keypoint_px == pytest.approx(4.0, abs=0.01)  # one 4-px cell, flat joints ignored


def test_int8_bounds_take_one_outlier_cell_but_not_a_shifted_bulk(tiny_model, crop_sets):
    """int8 modes bound the 99.9th percentile of |diff| tightly and the maximum loosely: one
    cell 0.3 off passes (the maximum alone used to refuse it), 1 % of cells 0.15 off fails."""
    _, crops = crop_sets
    reference = keras_predict(tiny_model)(crops.images)
    codec = HeatmapCodec((64, 64), (16, 16))
    one_cell = reference.copy()
    one_cell[0, 5, 5, 0] += 0.3
    report = verify(reference, lambda x: one_cell, crops, codec, "tflite-int8", "one.tflite")
    assert report.max_heatmap_diff == pytest.approx(0.3, abs=1e-5)
    assert report.q999_heatmap_diff < 1e-6
    assert "99.9th percentile" in str(report)
    bulk = reference.copy()
    rng = np.random.default_rng(0)
    mask = rng.random(bulk.shape) < 0.01
    bulk[mask] += 0.15
    with pytest.raises(ExportVerificationError, match=r"99\.9th percentile 0\.15 \(bound 0\.1\)"):
        verify(reference, lambda x: bulk, crops, codec, "tflite-int8", "bulk.tflite")
    # the float modes keep their maximum bound and no percentile bound
    with pytest.raises(ExportVerificationError, match="max heatmap diff 0.3"):
        verify(reference, lambda x: one_cell, crops, codec, "tflite", "one_float.tflite")
