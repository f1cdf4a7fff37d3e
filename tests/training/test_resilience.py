"""tools/train.py as a hostile user meets it: damaged checkpoints, another run's work dir,
non-finite settings, a kill inside a log rewrite. Each ends in a resume from the right step
or a clear error, with every earlier log row still there. Real files, real TensorFlow, no
mocks: one short base run is trained once and copied for each damage."""

from __future__ import annotations

import csv
import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.harness import REPO, subprocess_env

TRAIN = REPO / "tools" / "train.py"
SPE, EPOCHS = 4, 2  # checkpoints at steps 2, 4, 6, 8


def _main():
    return runpy.run_path(str(TRAIN))["main"]


def _args(workdir: Path, synthetic: Path, *extra: str) -> list[str]:
    return [
        "--model", "danet_tiny", "--input-size", "64x64", "--epochs", str(EPOCHS),
        "--steps-per-epoch", str(SPE), "--batch-size", "4", "--checkpoint-every", "2",
        "--workdir", str(workdir), "--verbose", "2",
        "--set", f"data.synthetic_dir={synthetic}", "--set", "data.synthetic_train_images=24",
        "--set", "data.synthetic_val_images=4", "--set", "train.val_samples=4",
        "--set", "train.overlay_samples=2", "--set", "train.log_every_steps=1",
        "--set", "train.keep_checkpoints=10", *extra,
    ]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _steps(workdir: Path) -> list[int]:
    return [int(r["step"]) for r in _rows(workdir / "log.csv")]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished 8-step run (checkpoints at 2, 4, 6, 8) with one truncated training image."""
    root = tmp_path_factory.mktemp("base")
    synthetic = root / "synthetic"
    from danet_tf.data import synthetic as synth

    paths = synth.generate(synthetic / "v2-24-4-s0", 24, 4, 0)
    images = sorted(Path(paths["train_images"]).glob("*.jpg"))
    data = images[0].read_bytes()
    images[0].write_bytes(data[: len(data) // 3])  # a truncated JPEG the pipeline must skip
    workdir = root / "run"
    assert _main()(_args(workdir, synthetic)) == 0
    return workdir, synthetic


def _copy(base, tmp_path: Path) -> Path:
    workdir, _ = base
    dest = tmp_path / "run"
    shutil.copytree(workdir, dest)
    return dest


def test_base_run_writes_everything(base):
    workdir, _ = base
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["step"] == 8 and summary["optimizer_iterations"] == 8
    assert _steps(workdir) == list(range(1, 9))
    # Skipped samples by reason: the truncated image, counted and stored.
    reasons = summary["skipped_samples"]["train"]
    assert sum(reasons.values()) >= 1, summary["skipped_samples"]
    assert any("truncat" in r.lower() or "jpeg" in r.lower() for r in reasons), reasons
    epochs = _rows(workdir / "epochs.csv")
    assert [int(r["epoch"]) for r in epochs] == [1, 2]
    assert summary["validation_metric"] == "val_AP"  # synthetic val is COCO-17 keypoints
    assert all(0.0 <= float(r["val_AP"]) <= 1.0 for r in epochs)
    for name in ("final.keras", "best.keras", "curves.png", "run.json", "config.yaml",
                 "predictions/epoch_001.png", "predictions/epoch_002.png"):
        assert (workdir / name).is_file(), name
    assert (workdir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["best"]["metric"] == "val_AP" and summary["best"]["epoch"] in (1, 2)


def test_damaged_checkpoints_fall_back_to_an_intact_one_and_the_run_goes_on(
        base, tmp_path, capsys):
    """Index gone, data truncated, pointer garbled (the cases one by one:
    tests/training/test_checkpoints.py): the run resumes from the newest intact checkpoint,
    reports and keeps the damaged files, and goes on, here to a longer schedule."""
    workdir = _copy(base, tmp_path)
    before = _rows(workdir / "log.csv")
    (workdir / "checkpoints" / "ckpt-8.index").unlink()
    data = workdir / "checkpoints" / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])  # TF: "IndexError: Read less bytes than requested"
    (workdir / "checkpoints" / "checkpoint").write_text("model_checkpoint_pa{{ garbage\n")
    assert _main()(_args(workdir, base[1], "--epochs", "3", "--allow-change",
                         "train.epochs")) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "damaged checkpoint files: checkpoint, ckpt-6.data-00000-of-00001, ckpt-6.index, " \
           "ckpt-8.data-00000-of-00001" in out, out
    assert "ckpt-6.data-00000-of-00001: IndexError: Read less bytes than requested" in out
    assert "ckpt-8.data-00000-of-00001: no .index file" in out
    assert "resuming at step 4:" in out
    # train.epochs 2 -> 3 with the flag: the schedule of the 12-step run, stated.
    assert "the schedule is now the 12-step one; learning rate at step 4: " in out
    damaged = workdir / "checkpoints" / "damaged"
    for name in ("checkpoint", "ckpt-8.data-00000-of-00001", "ckpt-6.index",
                 "ckpt-6.data-00000-of-00001"):
        assert list(damaged.glob(f"*/{name}")), f"{name} must be kept aside"
    assert 'model_checkpoint_path: "ckpt-12"' in (workdir / "checkpoints" / "checkpoint").read_text()
    after = _rows(workdir / "log.csv")
    assert [int(r["step"]) for r in after] == list(range(1, 13))
    assert after[:4] == before[:4]  # the rows before the restored step are the old ones
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["resumed_from_step"] == 4 and summary["step"] == 12
    assert summary["optimizer_iterations"] == 12
    assert "ckpt-6.data-00000-of-00001" in summary["damaged_checkpoint_files"]


def test_no_restorable_checkpoint_is_a_clear_error_then_restart(base, tmp_path, capsys):
    workdir = _copy(base, tmp_path)
    for index in (workdir / "checkpoints").glob("*.index"):
        index.write_bytes(b"not an sstable" * 8)
    log_before = (workdir / "log.csv").read_bytes()
    assert _main()(_args(workdir, base[1])) == 1
    err = capsys.readouterr().err
    assert "holds checkpoints but none restores" in err and "ckpt-2:" in err, err
    assert "--restart" in err
    # Nothing restarted from step 0, nothing moved.
    assert (workdir / "log.csv").read_bytes() == log_before
    assert len(list((workdir / "checkpoints").glob("*.index"))) == 4
    # --restart with any config (here a 1-step one): the old run is set aside, not deleted.
    assert _main()(_args(workdir, base[1], "--restart", "--epochs", "1",
                         "--steps-per-epoch", "1")) == 0
    previous = list((workdir / "previous").glob("*/log.csv"))
    assert len(previous) == 1 and previous[0].read_bytes() == log_before
    assert len(list((workdir / "previous").glob("*/checkpoints/ckpt-8.index"))) == 1
    assert json.loads((workdir / "summary.json").read_text())["resumed_from_step"] is None


def test_another_run_in_the_work_dir_is_refused(base, tmp_path, capsys):
    workdir = _copy(base, tmp_path)
    config_before = (workdir / "config.yaml").read_text()
    assert _main()(_args(workdir, base[1], "--batch-size", "8")) == 1
    err = capsys.readouterr().err
    assert "holds another run" in err and "train.global_batch_size: 4 in the work directory, 8 now" in err, err
    assert _main()(_args(workdir, base[1], "--epochs", "3")) == 1
    err = capsys.readouterr().err
    assert "train.epochs: 2 in the work directory, 3 now" in err and "--allow-change" in err
    assert _main()(_args(workdir, base[1], "--model", "danet72")) == 1
    assert "model.name: 'danet_tiny' in the work directory, 'danet72' now" in capsys.readouterr().err
    assert (workdir / "config.yaml").read_text() == config_before
    assert _steps(workdir) == list(range(1, 9))


def test_allow_change_only_names_fields_safe_to_change(tmp_path, capsys):
    assert _main()(["--allow-change", "train.loss", "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "--allow-change train.loss: not a field that may change mid-run" in err, err
    assert "train.epochs" in err and not any(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_learning_rate_rejected_at_start(value, capsys, tmp_path):
    assert _main()([f"--lr={value}", "--workdir", str(tmp_path)]) == 2
    assert f"train.learning_rate: expected a finite number, got '{value}'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_divergence_stops_before_anything_non_finite_is_written(tmp_path):
    import tensorflow as tf

    from danet_tf.config import load_config
    from danet_tf.training import NonFiniteError, train
    from tests.training.standin import LEVELS, random_inputs, standin_inference, standin_model

    workdir = tmp_path / "diverged"
    cfg = load_config(None, {
        "runtime.workdir": str(workdir), "runtime.verbose": 0, "model.input_size": "64x32",
        "train.epochs": 2, "train.steps_per_epoch": 4, "train.global_batch_size": 4,
        "train.reference_batch_size": 4, "train.learning_rate": 1e35,
        "train.checkpoint_every_steps": 1, "train.log_every_steps": 1, "train.val_samples": 0,
    })
    with pytest.raises(NonFiniteError) as err:
        train(cfg, inputs=random_inputs(size=(64, 32)), model_builder=standin_model,
              levels=LEVELS, inference_fn=standin_inference)
    message = str(err.value)
    step = int(message.split(" at step ")[1].split()[0])
    assert message.startswith("non-finite ") and step >= 2, message
    assert f"the last checkpoint is step {step - 1}" in message
    assert re.search(r"Likely cause: the learning rate [0-9.e+]+ is far too high", message), message
    index = sorted((workdir / "checkpoints").glob("*.index"))
    assert len(index) == step - 1
    for path in index:
        reader = tf.train.load_checkpoint(str(path.with_suffix("")))
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if np.issubdtype(np.asarray(value).dtype, np.floating):
                assert np.isfinite(value).all(), (path.name, name)
    rows = _rows(workdir / "log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, step))
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert not (workdir / "final.keras").exists()


def test_kill_inside_a_log_rewrite_keeps_every_row(base, tmp_path, capsys):
    workdir = _copy(base, tmp_path)
    before = (workdir / "log.csv").read_bytes()
    (workdir / "checkpoints" / "ckpt-8.index").unlink()  # resume at 6: log.csv is cut back
    env = subprocess_env(DANET_TF_FAULT="kill-in-rewrite:log.csv")
    proc = subprocess.run([sys.executable, str(TRAIN), *_args(workdir, base[1])], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (workdir / "log.csv").read_bytes() == before  # every earlier row is still there
    assert _main()(_args(workdir, base[1], "--verbose", "1")) == 0
    out = capsys.readouterr().out
    assert "resuming at step 6:" in out
    assert _steps(workdir) == list(range(1, 9))
    # Without a terminal: one plain line per logged step, no progress-bar backspaces.
    assert "\b" not in out and "\r" not in out
    assert "step 7/8 (epoch 2: 3/4) loss " in out
    assert not list(workdir.glob(".*.tmp-*"))  # the killed writer's temporary was dropped


def test_kill_inside_the_epoch_row_rewrite_loses_no_epoch(base, tmp_path, capsys):
    """Killed while epochs.csv gets epoch 2's row (after epoch 2's checkpoint): the rerun
    resumes at the epoch's end and writes that row, and epoch 1's row is still there."""
    workdir = _copy(base, tmp_path)
    expected = _rows(workdir / "epochs.csv")
    for name in ("ckpt-8.index", "ckpt-8.data-00000-of-00001"):
        (workdir / "checkpoints" / name).unlink()  # resume at 6: epoch 2 is trained again
    lines = (workdir / "epochs.csv").read_text().splitlines(keepends=True)
    (workdir / "epochs.csv").write_text("".join(lines[:2]))  # as before epoch 2's row
    env = subprocess_env(DANET_TF_FAULT="kill-in-rewrite:epochs.csv")
    proc = subprocess.run([sys.executable, str(TRAIN), *_args(workdir, base[1])], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert [r["epoch"] for r in _rows(workdir / "epochs.csv")] == ["1"]
    assert _main()(_args(workdir, base[1])) == 0
    assert "resuming at step 8:" in capsys.readouterr().out
    rows = _rows(workdir / "epochs.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert rows[1]["loss"] == expected[1]["loss"]  # the whole epoch's mean, as uninterrupted


def test_weights_only_snapshot_restarts_a_run_from_the_same_weights(base, tmp_path, capsys):
    """A run whose work directory is lost goes on from a committed snapshot of its newest
    checkpoint (model.init_weights): the fresh run starts from exactly those weights."""
    import danet_tf
    from danet_tf.config import load_config
    from danet_tf.training.snapshot import main as snapshot_main
    from danet_tf.training.trainer import _init_weights, default_model_builder

    workdir = _copy(base, tmp_path)
    snap = tmp_path / "snap" / "run.weights.h5"
    # The command's bad values are named before anything is read or written.
    for args, needle in (([str(workdir), "x.h5"], "must end in .weights.h5, got 'x.h5'"),
                         ([str(tmp_path), str(snap)], "no config.yaml")):
        with pytest.raises(SystemExit):
            snapshot_main(args)
        assert needle in capsys.readouterr().err
    assert snapshot_main([str(workdir), str(snap)]) == 0
    assert capsys.readouterr().out.startswith(f"step 8 -> {snap}")
    model = default_model_builder(load_config(workdir / "config.yaml"), 17)
    _init_weights(model, str(snap))
    final = {w.path: w.numpy() for w in danet_tf.load_model(workdir / "final.keras").weights}
    restored = {w.path: w.numpy() for w in model.weights}
    assert final and all(np.array_equal(restored[k], v) for k, v in final.items())
    # --float16: the weights take half the bytes (the file's structure stays), every weight
    # is the checkpoint's rounded to float16.
    half = tmp_path / "snap" / "half.weights.h5"
    assert snapshot_main([str(workdir), str(half), "--float16"]) == 0
    payload = sum(w.numpy().nbytes for w in model.weights)
    assert snap.stat().st_size - half.stat().st_size >= 0.45 * payload
    _init_weights(model, str(half))
    restored = {w.path: w.numpy() for w in model.weights}
    assert all(restored[k].dtype == v.dtype for k, v in final.items())
    assert all(np.array_equal(restored[k], v.astype(np.float16).astype(v.dtype))
               for k, v in final.items())
    assert any(not np.array_equal(restored[k], v) for k, v in final.items())
    with pytest.raises(FileNotFoundError, match="model.init_weights: .*missing.weights.h5"):
        _init_weights(model, str(tmp_path / "missing.weights.h5"))
    fresh = tmp_path / "fresh"
    assert _main()(_args(fresh, base[1], "--epochs", "1", "--set",
                         f"model.init_weights={snap}")) == 0
    assert f"initial weights: {snap}" in capsys.readouterr().out


def test_float16_snapshot_refuses_a_weight_float16_cannot_hold(tmp_path):
    import h5py

    from danet_tf.training.snapshot import _to_float16

    path = tmp_path / "big.weights.h5"
    with h5py.File(path, "w") as store:
        store.create_dataset("layers/conv/vars/0", data=np.array([1.0, 1e6], np.float32))
    with pytest.raises(ValueError, match=r"layers/conv/vars/0: \|value\| up to 1e\+06 does not fit"):
        _to_float16(path, tmp_path / "half.weights.h5")
