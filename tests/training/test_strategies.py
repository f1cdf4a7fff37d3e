"""Two replicas on two logical CPUs and two worker processes over 127.0.0.1, no mocks.

Every run trains the stand-in model on the same fixed samples with the same global batch,
so the weights after training must agree across strategies (up to float summation order).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from danet_tf.config import load_config
from tests.harness import subprocess_env
from tests.training.standin import standin_model

DRIVER = Path(__file__).with_name("standin_run.py")
COMMON = ["train.epochs=2", "train.steps_per_epoch=4", "train.checkpoint_every_steps=3",
          "train.val_samples=0", "runtime.verbose=0", "model.input_size=64x32",
          "train.learning_rate=0.01", "train.global_batch_size=8",
          "train.reference_batch_size=8"]


def _launch(workdir: Path, *extra: str, tf_config: dict | None = None) -> subprocess.Popen:
    env = subprocess_env()
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, str(DRIVER), f"runtime.workdir={workdir}", *COMMON, *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"child timed out:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    return out


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / "weights.npz") as data:
        return dict(data)


def _initial_weights() -> dict[str, np.ndarray]:
    keras.utils.set_random_seed(0)
    model = standin_model(load_config(None, {"model.input_size": "64x32"}), 5)
    return {v.path: v.numpy() for v in model.weights}


def _summary(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


@pytest.mark.slow
def test_mirrored_two_cpus_and_two_workers_match_one_replica(tmp_path):
    ref = _launch(tmp_path / "ref", "runtime.strategy=default")
    mirrored = _launch(tmp_path / "mirrored", "runtime.cpu_devices=2", "runtime.strategy=mirrored")
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [
        _launch(tmp_path / "multi", "runtime.strategy=multiworker",
                tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(2)
    ]
    for proc in (ref, mirrored, *workers):
        _finish(proc)

    ref_s = _summary(tmp_path / "ref")
    mir_s = _summary(tmp_path / "mirrored")
    chief_s = _summary(tmp_path / "multi")
    worker_s = _summary(tmp_path / "multi" / ".worker-1")
    assert ref_s["replicas"] == 1 and mir_s["replicas"] == 2 and chief_s["replicas"] == 2
    for s in (ref_s, mir_s, chief_s, worker_s):
        assert s["step"] == s["total_steps"] == 8
        assert s["optimizer_iterations"] == 8
    assert mir_s["logs"]["loss"] == pytest.approx(ref_s["logs"]["loss"], rel=1e-4)
    # Training moved the weights far; every strategy moved them to the same place, and both
    # workers hold the same synchronized copy.
    ref_w = _weights(tmp_path / "ref")
    init = _initial_weights()
    moved = max(np.abs(ref_w[k] - init[k]).max() for k in ref_w)
    assert moved > 1e-2
    for other in ("mirrored", "multi", "multi/.worker-1"):
        w = _weights(tmp_path / other)
        assert w.keys() == ref_w.keys()
        diff = max(np.abs(w[k] - ref_w[k]).max() for k in ref_w)
        assert diff < 1e-3 * moved, (other, diff, moved)
    # Only the chief writes the final model and keeps checkpoints.
    assert (tmp_path / "multi" / "final.keras").is_file()
    assert (tmp_path / "multi" / "checkpoints" / "checkpoint").is_file()
    assert not (tmp_path / "multi" / ".worker-1" / "checkpoints").exists()
    assert not (tmp_path / "multi" / ".worker-1" / "final.keras").exists()


@pytest.mark.slow
def test_mixed_precision_keeps_a_float32_loss_and_model(tmp_path):
    _finish(_launch(tmp_path / "mp", "train.global_batch_size=4", "runtime.mixed_precision=true"))
    summary = _summary(tmp_path / "mp")
    assert summary["step"] == 8 and np.isfinite(summary["logs"]["loss"])
    model = keras.models.load_model(tmp_path / "mp" / "final.keras")
    assert model.dtype_policy.name == "float32"
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers)
