"""CPU benchmark of every runtime on the same verified artifacts, against the matmul ceiling.

``run_benchmark`` exports the model once per runtime (verified, cached under ``workdir``),
then runs one worker process per thread count (TensorFlow fixes its thread pools at start)
that measures, for each runtime:

- ``model_ms``: the model alone on one prepared crop (batch 1, median of ``repeats``);
- ``end_to_end_ms``: one person from image + box to keypoints in image pixels
  (crop, model, decode, back-projection: :class:`danet_edge.topdown.TopDownPredictor`,
  single pass: ``flip_test`` off);
- ``preprocess_ms`` / ``postprocess_ms`` of that path;
- the float32 matmul ceiling (TensorFlow, 2048^3, best of several) at that thread count.

Effective GFLOP/s = 2 x MACs / time (MACs from ``danet_tf.models.count_complexity``) and
``fraction_of_ceiling`` = that / the ceiling measured in the same worker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from danet_edge.choices import RUNTIMES  # name: (export format, quantize, xnnpack)

SUFFIX = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx"}


def artifact_name(model_name: str, runtime: str) -> str:
    fmt, quantize, _ = RUNTIMES[runtime]
    return (
        f"{model_name}_{quantize}{SUFFIX[fmt]}" if fmt == "tflite" else f"{model_name}{SUFFIX[fmt]}"
    )


def run_benchmark(
    model: Any,
    model_name: str,
    workdir: str | Path,
    crops: Any,
    image_path: str | Path,
    box: list[float],
    runtimes: list[str] | None = None,
    threads: list[int] | None = None,
    repeats: int = 10,
    weights_path: str | Path | None = None,
    bounds: Any = None,
) -> dict[str, Any]:
    """Export (cached), then benchmark ``runtimes`` at each thread count; returns the results.

    ``bounds`` overrides the verification bounds of every export (``verify.TIMING_ONLY`` for
    random weights, whose speed is what a trained model's is).
    """
    from danet_tf.models import count_complexity

    runtimes = runtimes or list(RUNTIMES)
    unknown = [r for r in runtimes if r not in RUNTIMES]
    if unknown:
        raise ValueError(f"unknown runtimes {unknown}; known: {', '.join(RUNTIMES)}")
    threads = threads or [1, 2]
    workdir = Path(workdir)
    failed = _export_all(model, model_name, workdir, crops, runtimes, weights_path, bounds)
    macs = count_complexity(model).macs
    results: dict[str, Any] = {
        "model": model_name,
        "input_size": list(model.input_shape[1:3]),
        "macs": macs,
        "gflop_per_person": 2 * macs / 1e9,
        "versions": _versions(),
        "cpu": _cpu_name(),
        "runs": [],
        "failed_exports": failed,
        "ceiling_gflops": {},
        # Shared machines are noisy: the 1-minute load average before and after the runs.
        "load_average": [round(os.getloadavg()[0], 2)],
    }
    for n in threads:
        cmd = [sys.executable, "-m", "danet_tf.benchmarks.deployment", "--worker", str(workdir),
               "--model-name", model_name, "--threads", str(n), "--repeats", str(repeats),
               "--image", str(image_path), "--box", ",".join(map(str, box)), *runtimes]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"benchmark worker (threads={n}) failed:\n{out.stderr[-3000:]}")
        worker = json.loads(out.stdout.strip().splitlines()[-1])
        ceiling = worker["ceiling_gflops"]
        results["ceiling_gflops"][str(n)] = ceiling
        for run in worker["runs"]:
            for key in ("model_ms", "end_to_end_ms"):
                gflops = 2 * macs / (run[key] * 1e6)
                tag = "model" if key == "model_ms" else "end_to_end"
                run[f"{tag}_gflops"] = gflops
                run[f"{tag}_fraction_of_ceiling"] = gflops / ceiling
            run["fraction_of_ceiling"] = run["end_to_end_fraction_of_ceiling"]
            run["persons_per_s"] = 1e3 / run["end_to_end_ms"]
            run["verified"] = artifact_name(model_name, run["runtime"]) not in failed
            results["runs"].append(run)
    results["load_average"].append(round(os.getloadavg()[0], 2))
    return results


def _export_all(model: Any, model_name: str, workdir: Path, crops: Any, runtimes: list[str],
                weights_path: str | Path | None, bounds: Any) -> dict[str, str]:
    """Export each runtime's artifact into ``workdir`` unless a readable one is there;
    returns ``{file name: why verification failed}`` for those that failed it."""
    from danet_tf.export.api import export_model
    from danet_tf.export.metadata import read_metadata

    calibration, verification = crops.split()
    failed: dict[str, str] = {}
    for runtime in runtimes:
        fmt, quantize, _ = RUNTIMES[runtime]
        path = workdir / artifact_name(model_name, runtime)
        if path.name in failed:
            continue
        try:
            meta = read_metadata(path)
        except (OSError, ValueError):  # not exported yet (or damaged): export it again
            # Speed does not depend on the weights: an artifact that fails verification is
            # still timed, and its failure is reported beside the timing.
            meta = export_model(model, path, fmt, verification, quantize=quantize,
                                calibration=calibration, weights_path=weights_path,
                                model_name=model_name, bounds=bounds,
                                allow_unverified=True).metadata  # fmt: skip
        verification_record = meta.get("verification") or {}
        if verification_record.get("passed", True) is False:
            failed[path.name] = str(verification_record.get("failure"))
    return failed


def quantized_agreement(
    workdir: str | Path, model_name: str, crops: Any, decode: str | None = None
) -> dict[str, Any]:
    """Decoded-keypoint agreement of the fp16 and int8 TFLite models with the float32 one.

    Mean OKS (per person, over annotated joints) and mean pixel distance in crop pixels, on
    ``crops`` (real persons, ideally not the calibration ones), under two protocols: one
    pass (``decode``, the artifacts' default) and the paper's test protocol (``flip_test``:
    the crop and its mirror averaged, then the same decode).
    """
    from danet_edge.topdown import codec_from_metadata
    from danet_tf.codec import fuse_flip
    from danet_tf.export.metadata import read_metadata
    from danet_tf.export.runners import load_predict
    from danet_tf.export.verify import keypoint_agreement

    mirrored = np.ascontiguousarray(crops.images[:, :, ::-1])

    def heatmaps(runtime: str) -> tuple[np.ndarray, np.ndarray, Any]:
        path = Path(workdir) / artifact_name(model_name, runtime)
        meta = read_metadata(path)
        predict = load_predict(path, 2, meta, xnnpack=False)
        single = np.asarray(predict(crops.images))
        pairs = [tuple(p) for p in meta["keypoints"]["flip_pairs"]]
        flipped = fuse_flip(single, np.asarray(predict(mirrored)), pairs)
        return single, flipped, codec_from_metadata(meta)

    reference, reference_flip, codec = heatmaps("tflite-fp32-builtin")
    found = {}
    quantized = [r for r in RUNTIMES if r.endswith("-builtin") and not r.startswith("tflite-fp32")]
    for runtime in quantized:
        if not (Path(workdir) / artifact_name(model_name, runtime)).is_file():
            continue
        single, flipped, _ = heatmaps(runtime)
        entry: dict[str, Any] = {"reference": "tflite-fp32", "crops": len(crops),
                                 "decode": decode or codec.decode_mode, "source": crops.source}  # fmt: skip
        for protocol, ref, cand in (("single", reference, single),
                                    ("flip_test", reference_flip, flipped)):  # fmt: skip
            dist, per_person = keypoint_agreement(ref, cand, crops, codec, decode)
            suffix = "" if protocol == "single" else "_flip_test"
            entry[f"mean_oks{suffix}"] = float(per_person.mean())
            entry[f"min_oks{suffix}"] = float(per_person.min())
            entry[f"mean_keypoint_px{suffix}"] = float(dist.mean())
        found[runtime.rsplit("-", 1)[0]] = entry
    return found


def format_table(results: dict[str, Any]) -> str:
    """A markdown table of the runs."""
    lines = [
        "| runtime | threads | model ms | pre ms | post ms | end-to-end ms/person | persons/s "
        "| model GFLOP/s | e2e GFLOP/s | e2e fraction of ceiling | verified |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['runtime']} | {r['threads']} | {r['model_ms']:.1f} | {r['preprocess_ms']:.1f} "
            f"| {r['postprocess_ms']:.1f} | {r['end_to_end_ms']:.1f} | {r['persons_per_s']:.1f} "
            f"| {r['model_gflops']:.1f} | {r['end_to_end_gflops']:.1f} | {r['fraction_of_ceiling']:.0%} "
            f"| {'yes' if r.get('verified', True) else 'FAILED'} |"
        )
    ceilings = ", ".join(
        f"{v:.1f} GFLOPS at {k} thread(s)" for k, v in results["ceiling_gflops"].items()
    )
    lines.append(
        f"\nfloat32 matmul ceiling: {ceilings}; {results['gflop_per_person']:.2f} GFLOP per person; "
        f"1-min load average before/after {results['load_average']}"
    )
    return "\n".join(lines)


def matmul_ceiling(size: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOPS of a ``size``^3 TensorFlow matmul (threads as configured)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def _median_ms(fn, repeats: int) -> float:
    fn()
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples)) * 1e3


def _worker(args: argparse.Namespace) -> None:
    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from danet_edge.images import load_image
    from danet_edge.topdown import TopDownPredictor
    from danet_tf.export.metadata import read_metadata
    from danet_tf.export.runners import load_predict

    image = load_image(args.image)
    box = [float(v) for v in args.box.split(",")]
    runs = []
    for runtime in args.runtimes:
        path = Path(args.worker) / artifact_name(args.model_name, runtime)
        meta = read_metadata(path)
        predict = load_predict(path, args.threads, meta, xnnpack=RUNTIMES[runtime][2])
        estimator = TopDownPredictor.from_metadata(predict, meta, flip_test=False)
        center, scale = estimator.region(box)
        crops = estimator.crop(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), center, scale)[None]
        model_ms = _median_ms(lambda: predict(crops), args.repeats)  # noqa: B023
        timings = []
        for _ in range(args.repeats):
            timings.append(estimator(image, [box]).timings_ms)
        runs.append({
            "runtime": runtime,
            "threads": args.threads,
            "model_ms": model_ms,
            "preprocess_ms": float(np.median([t["preprocess"] for t in timings])),
            "postprocess_ms": float(np.median([t["postprocess"] for t in timings])),
        })  # fmt: skip
        runs[-1]["end_to_end_ms"] = float(np.median([sum(t.values()) for t in timings]))
        print(f"{runtime} threads={args.threads}: {model_ms:.1f} ms", file=sys.stderr, flush=True)
    print(json.dumps({"ceiling_gflops": matmul_ceiling(), "runs": runs}))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for pkg in (
        "tensorflow",
        "keras",
        "ai-edge-litert",
        "onnxruntime",
        "tf2onnx",
        "numpy",
        "opencv-python-headless",
    ):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return found


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m danet_tf.benchmarks.deployment")
    parser.add_argument("--worker", required=True, help="artifact directory")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--image", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("runtimes", nargs="+")
    _worker(parser.parse_args())


def whole_image_timings(
    model_path: str | Path,
    image_path: str | Path,
    detector_path: str | Path | None = None,
    threads: tuple[int, ...] = (1, 2),
    persons: tuple[int, ...] = (1, 3, 8),
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Whole-image pose estimation on the edge path: detector ms per image, and detector +
    pose ms for 1, 3 and 8 persons (their crops in one batched model call), per thread count.

    The N person boxes are the detector's N best boxes on ``image_path`` (repeated when it
    finds fewer), so the pose work is exactly N crops. Single pass (``flip_test`` off); medians
    of ``repeats`` after a warm-up.
    """
    from danet_edge.detector import PersonDetector
    from danet_edge.images import load_image
    from danet_edge.topdown import TopDownPredictor

    image = load_image(image_path)
    rows = []
    for n_threads in threads:
        detector = PersonDetector(detector_path, num_threads=n_threads)
        predictor = TopDownPredictor.from_file(model_path, n_threads, flip_test=False)
        found, _ = detector(image)
        if len(found) == 0:
            found = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
        detect_ms = _median_ms(lambda d=detector: d(image), repeats)
        row: dict[str, Any] = {"threads": n_threads, "detector_ms": detect_ms,
                               "detected": int(len(found))}  # fmt: skip
        for n in persons:
            boxes = np.resize(found, (n, 4))
            pose_ms = _median_ms(lambda p=predictor, b=boxes: p(image, b), repeats)
            row[f"pose_ms_{n}"] = pose_ms
            row[f"whole_image_ms_{n}"] = detect_ms + pose_ms
        rows.append(row)
    return rows


def format_whole_image(rows: list[dict[str, Any]], persons: tuple[int, ...] = (1, 3, 8)) -> str:
    """A markdown table of :func:`whole_image_timings`."""
    head = " | ".join(f"{n} person{'s' if n > 1 else ''} ms" for n in persons)
    lines = [f"| threads | detector ms | {head} |", "|---" * (2 + len(persons)) + "|"]
    for r in rows:
        cells = " | ".join(f"{r[f'whole_image_ms_{n}']:.1f}" for n in persons)
        lines.append(f"| {r['threads']} | {r['detector_ms']:.1f} | {cells} |")
    return "\n".join(lines)
