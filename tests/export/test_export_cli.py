"""tools/export.py, tools/demo.py and tools/benchmark.py end to end on real data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.harness import REPO


def _tool(name: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "tools" / name), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cli_tflite(coco_sample, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "tiny.tflite"
    result = _tool(
        "export.py", "--model", "danet_tiny", "--input-size", "64x64", "--format", "tflite",
        "--calib-data", str(coco_sample / "val4.json"), "--images", str(coco_sample / "images"),
        "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "verify:" in result.stdout and out.is_file()
    return out


def test_export_cli_writes_metadata(cli_tflite):
    from danet_edge.metadata import read_metadata

    meta = read_metadata(cli_tflite)
    assert meta["source"]["model"] == "danet_tiny" and meta["format"] == "tflite"
    assert meta["keypoints"]["skeleton"][0] == [15, 13]


def test_export_cli_rejects_unknown_format():
    result = _tool("export.py", "--format", "pt", "--output", "x")
    assert result.returncode == 2 and "invalid choice: 'pt'" in result.stderr


def test_demo_on_image_with_detections(cli_tflite, coco_sample, tmp_path):
    out = tmp_path / "demo.jpg"
    result = _tool(
        "demo.py", str(coco_sample / "images" / "000000000785.jpg"), "--model", str(cli_tflite),
        "--dets", str(coco_sample / "val4_person_dets.json"), "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["persons"] >= 1 and cv2.imread(str(out)) is not None


def test_demo_on_video(cli_tflite, coco_sample, tmp_path):
    frame = cv2.imread(str(coco_sample / "images" / "000000000785.jpg"))
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, frame.shape[1::-1])
    for shift in range(3):
        writer.write(np.roll(frame, 4 * shift, axis=1))
    writer.release()
    out = tmp_path / "annotated.mp4"
    result = _tool("demo.py", str(video), "--model", str(cli_tflite), "--box", "100,50,200,300",
                   "--output", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["frames"] == 3
    reader = cv2.VideoCapture(str(out))
    assert reader.read()[0]


@pytest.mark.slow
def test_benchmark_cli_json(coco_sample, tmp_path, capsys):
    # In this process: the wrapper's process boundary is tests/tools/test_commands.py's.
    from danet_tools.benchmark import main

    out = tmp_path / "bench.json"
    assert main([
        "--model", "danet_tiny", "--input-size", "64x64", "--threads", "1",
        "--runtimes", "tflite-fp32-builtin,tflite-int8-builtin,onnxruntime", "--repeats", "2",
        "--workdir", str(tmp_path / "artifacts"), "--json", str(out),
        "--agreement-data", str(coco_sample / "val4.json"), "--agreement-count", "12",
    ]) == 0  # fmt: skip
    stdout = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert {r["runtime"] for r in results["runs"]} == {
        "tflite-fp32-builtin", "tflite-int8-builtin", "onnxruntime"}  # fmt: skip
    # int8 vs fp32 decoded keypoints, one pass and with the flip test (random weights here,
    # so only the shape of the report is checked)
    agreement = results["agreement"]["tflite-int8"]
    assert agreement["crops"] == 12 and agreement["reference"] == "tflite-fp32"
    for key in ("mean_oks", "mean_oks_flip_test"):
        assert 0.0 <= agreement[key] <= 1.0
    for run in results["runs"]:
        assert run["threads"] == 1 and 0 < run["fraction_of_ceiling"] < 2
        # timings are printed, not judged (a shared machine is too noisy); check the
        # breakdown is all there and consistent in kind
        assert min(run["model_ms"], run["preprocess_ms"], run["postprocess_ms"]) > 0
        assert run["persons_per_s"] == pytest.approx(1e3 / run["end_to_end_ms"])
    assert results["ceiling_gflops"]["1"] > 1 and results["macs"] > 0
    assert "| tflite-fp32-builtin | 1 |" in stdout


def test_compare_tflite_interleaves(cli_tflite, tmp_path):
    out = tmp_path / "ab.json"
    result = _tool("compare_tflite.py", f"{cli_tflite}:xnnpack", f"{cli_tflite}:builtin",
                   str(cli_tflite), "--threads", "1", "--rounds", "3", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["model"] for r in rows] == [f"{cli_tflite}:xnnpack", f"{cli_tflite}:builtin",
                                          str(cli_tflite)]  # fmt: skip
    assert rows[0]["ratio_to_first"] == 1.0 and all(r["median_ms"] > 0 for r in rows)
    assert rows[1]["ratio_to_first"] == pytest.approx(rows[1]["median_ms"] / rows[0]["median_ms"])
    missing = _tool("compare_tflite.py", str(tmp_path / "nope.tflite"))
    assert missing.returncode != 0 and "no such .tflite file" in missing.stderr
