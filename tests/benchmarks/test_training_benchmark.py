"""The training-step benchmark (`danet_tf.benchmarks.training`, ``tools/benchmark_train.py``)
runs the real train step (model, loss, Adam, targets rendered from keypoints) and reports a
rate consistent with its own timing."""

from __future__ import annotations

from danet_tf.benchmarks.training import benchmark_train_step


def test_train_step_benchmark_reports_its_rate():
    r = benchmark_train_step("danet_tiny", (64, 64), batch_size=2, steps=2, warmup=1)
    assert r["batch_size"] == 2 and r["steps"] == 2
    assert r["samples_per_s"] > 0
    assert abs(r["samples_per_s"] * r["ms_per_step"] / 1000 - 2) < 1e-6  # batch / step time
