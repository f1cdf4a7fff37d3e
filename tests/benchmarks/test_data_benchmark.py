"""tools/benchmark_data.py: both decode-only baselines and the training pipeline are timed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from danet_tf.benchmarks.data import run_benchmark
from danet_tf.data import load_coco

ROOT = Path(__file__).resolve().parents[2]


def test_run_benchmark_reports_both_decoders(coco_sample: Path):
    ds = load_coco(coco_sample / "val4.json")
    result = run_benchmark(ds, num_samples=40, batch_size=8, input_size=(64, 48), repeats=1)
    assert result.samples == 40  # 12 persons cycled up to 40
    assert set(result.baselines) == {"tf.io.decode_jpeg", "cv2.imdecode"}
    assert result.decode_per_s == max(rate for rate, _ in result.baselines.values())
    assert result.pipeline_per_s > 0 and result.pipeline_cpu_ms > 0
    assert result.ratio == pytest.approx(result.pipeline_per_s / result.decode_per_s)
    assert result.levels == 0 and result.image_dtype == "uint8"  # as tools/train.py uses it
    report = result.report()
    assert "cv2.imdecode" in report and "ratio to the faster decode" in report


def test_benchmark_cli(coco_sample: Path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark_data.py"), "--data",
         str(coco_sample / "val4.json"), "--samples", "16", "--batch-size", "8",
         "--input-size", "64x48", "--repeats", "1", "--host-heatmaps"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert "4 heatmap levels" in out.stdout and "full pipeline" in out.stdout
