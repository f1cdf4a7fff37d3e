"""tools/train.py end to end: bad values fail at start, kill -9 mid-epoch then resume."""

from __future__ import annotations

import json
import re
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import REPO, subprocess_env

TRAIN = REPO / "tools" / "train.py"
STEPS_PER_EPOCH = 40


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TRAIN), *args], env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--epochs", "zero"], "train.epochs: expected an integer, got 'zero'"),
        (["--batch-size", "0"], "train.global_batch_size: expected >= 1, got 0"),
        (["--set", "train.loss=mine"], "train.loss: expected one of ['authors', 'danet_tf']"),
        (["--input-size", "250x192"], "model.input_size: expected multiples of 32, got 250x192"),
        (["--strategy", "tpu"], "runtime.strategy: expected one of"),
        (["--set", "train.epocs=3"], "unknown config key 'train.epocs'"),
        (["--data", "x.json"], "data.images"),
        (["--config", "nope.yaml"], "'nope.yaml' does not exist"),
    ],
)
def test_bad_value_fails_at_start(args, needle, capsys):
    assert _train_main()(args) == 2
    assert needle in capsys.readouterr().err


def test_bad_value_exit_status_in_a_fresh_process():
    proc = _run("--epochs", "-3", timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "train.epochs: expected >= 1, got -3" in proc.stderr


def test_unknown_model_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="model.name: unknown model 'danet7'; known: danet72"):
        _train_main()(["--model", "danet7", "--workdir", str(tmp_path), "--verbose", "0"])
    assert not (tmp_path / "checkpoints").exists()


def _train_main():
    return runpy.run_path(str(TRAIN))["main"]


def _command(workdir: Path, synthetic: Path) -> list[str]:
    return [
        "--model", "danet_tiny", "--input-size", "64x64", "--epochs", "2",
        "--steps-per-epoch", str(STEPS_PER_EPOCH), "--batch-size", "4",
        "--checkpoint-every", "5", "--workdir", str(workdir), "--verbose", "2",
        "--set", f"data.synthetic_dir={synthetic}", "--set", "data.synthetic_train_images=24",
        "--set", "data.synthetic_val_images=4", "--set", "train.val_samples=8",
        "--set", "train.learning_rate=1e-3",
    ]


def _latest_step(workdir: Path) -> int:
    state = workdir / "checkpoints" / "checkpoint"
    if not state.is_file():
        return 0
    match = re.search(r'model_checkpoint_path: "ckpt-(\d+)"', state.read_text())
    return int(match.group(1)) if match else 0


def _kill_when(workdir: Path, synthetic: Path, ready) -> int:
    """Start the run, SIGKILL it once ``ready()`` holds; the newest checkpoint then."""
    victim = subprocess.Popen([sys.executable, str(TRAIN), *_command(workdir, synthetic)],
                              env=subprocess_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not ready():
        assert victim.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "the kill moment did not come within 240 s"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    return _latest_step(workdir)


def _weights(path: Path) -> dict:
    import danet_tf

    return {w.path: w.numpy() for w in danet_tf.load_model(path).weights}


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(abs(a[k] - b[k]).max()) for k in a)


@pytest.mark.slow
def test_kill9_at_several_moments_then_resume_is_bit_exact(tmp_path):
    """kill -9 mid-epoch, right after an epoch's checkpoint (before its validation row), and
    rerunning a finished run: the model, best.keras and every log row equal an uninterrupted
    run's."""
    import keras
    import tensorflow as tf

    import danet_tf  # noqa: F401  (registers the layers final.keras needs)

    synthetic = tmp_path / "synthetic"
    # Render the data once so the two runs below do not race to create it.
    from danet_tf.data import synthetic as synthetic_data

    synthetic_data.generate(str(synthetic / "v1-24-4-s0"), 24, 4, 0)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    uninterrupted = subprocess.Popen([sys.executable, str(TRAIN), *_command(whole, synthetic)],
                                     env=subprocess_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
    # 1. mid first epoch, as soon as a checkpoint is there.
    saved = _kill_when(killed, synthetic, lambda: _latest_step(killed) >= 10)
    assert 0 < saved < STEPS_PER_EPOCH, f"killed at checkpoint {saved}, not mid first epoch"
    # 2. right after the end-of-epoch-1 checkpoint, before its epochs.csv row.
    epochs_csv = killed / "epochs.csv"
    saved = _kill_when(killed, synthetic,
                       lambda: _latest_step(killed) >= STEPS_PER_EPOCH)
    resumed = _run(*_command(killed, synthetic), timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert f"resuming at step {saved}:" in resumed.stdout
    out, _ = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, out[-3000:]

    a = json.loads((killed / "summary.json").read_text())
    b = json.loads((whole / "summary.json").read_text())
    total = 2 * STEPS_PER_EPOCH
    assert a["step"] == b["step"] == total
    # The optimizer (and so the schedule) continued from the checkpoint instead of restarting.
    assert a["optimizer_iterations"] == b["optimizer_iterations"] == total
    assert a["logs"] == b["logs"]  # epoch means over the whole epoch, validation included
    def logged(path: Path) -> list[list[str]]:  # every column but the wall-clock rate
        rows = [r.split(",") for r in path.read_text().splitlines()]
        if "samples_per_s" not in rows[0]:
            return rows
        drop = rows[0].index("samples_per_s")
        return [r[:drop] + r[drop + 1:] for r in rows]

    assert logged(killed / "log.csv") == logged(whole / "log.csv")
    assert logged(epochs_csv) == logged(whole / "epochs.csv")
    assert [int(r.split(",")[0]) for r in epochs_csv.read_text().splitlines()[1:]] == [1, 2]
    for name in ("final.keras", "best.keras"):
        assert _max_diff(_weights(killed / name), _weights(whole / name)) == 0.0, name

    # 3. rerunning the finished run changes nothing (in this process: no kill here).
    before = {n: _weights(killed / n) for n in ("final.keras", "best.keras")}
    assert _train_main()(_command(killed, synthetic)) == 0
    for name, weights in before.items():
        assert _max_diff(_weights(killed / name), weights) == 0.0, name
    assert [int(r.split(",")[0]) for r in epochs_csv.read_text().splitlines()[1:]] == [1, 2]

    model = tf.keras.models.load_model(killed / "final.keras")
    assert isinstance(model, keras.Model)
    heatmaps = model(tf.zeros((1, 64, 64, 3)))
    assert heatmaps.shape == (1, 16, 16, 17)
    # The run's codec travels in final.keras (embedded metadata) and into every export of it.
    from danet_edge.metadata import read_metadata
    from danet_tf.config import load_config
    from danet_tf.export.api import recorded_codec
    from danet_tf.training.trainer import run_codec

    recorded = read_metadata(killed / "final.keras")["codec"]
    cfg = load_config(killed / "config.yaml")
    assert recorded["level_sigmas"] == run_codec(cfg).level_sigmas
    assert recorded["padding"] == run_codec(cfg).padding and recorded["input_size"] == [64, 64]
    assert recorded_codec(killed / "final.keras").to_dict() == recorded


def test_the_last_lines_say_what_was_made_and_what_to_do_next(tmp_path):
    from types import SimpleNamespace

    from danet_tf.config import Config
    from danet_tools.train import next_steps

    (tmp_path / "curves.png").write_bytes(b"")
    (tmp_path / "predictions").mkdir()
    result = SimpleNamespace(workdir=tmp_path, final_model=tmp_path / "final.keras",
                             last_logs={"val_AP": 0.145, "loss": 1.0})
    text = next_steps(Config(), result)  # the demo: synthetic data
    assert f"{tmp_path / 'curves.png'}: loss and validation curves" in text
    assert "green rings" in text and "red dots" in text
    assert "final val_AP 0.145: measured on the embedded synthetic stick figures" in text
    assert f"next: danet-demo PHOTO --model {tmp_path / 'final.keras'} --output out.jpg" in text
    assert "runs the shipped preset" in text


def test_prediction_overlays_carry_a_legend():
    import numpy as np

    from danet_tf.training.pictures import overlay_grid

    images = np.zeros((2, 32, 24, 3), np.float32)
    kpts = np.zeros((2, 17, 3), np.float32)
    grid = overlay_grid(images, kpts, np.full((2, 17, 2), -50.0), scale=2)  # marks off-tile
    assert grid.shape == (18 + 64, 2 * 48, 3)
    assert grid[:18].any() and not grid[18:].any()  # the legend is drawn above the tiles
