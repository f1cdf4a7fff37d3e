"""``danet-estimate``: human poses in images with an exported DANet ``.tflite`` or ``.onnx`` file.

    danet-estimate IMAGE [IMAGE ...] [--model NAME|PATH] [--int8] [--box x,y,w,h ...] [--json]
    danet-estimate MODEL.tflite IMAGE [IMAGE ...] ...      (a model file may also come first)

Without a model the default shipped preset runs (``danet_edge.presets.list_presets()``);
``--model`` takes a preset name or a ``.tflite`` / ``.onnx`` file.

Everything model-specific (input size, normalisation, decoder, keypoints, flip pairs, op
resolver) is read from the metadata embedded in the model file. Without ``--box`` the person
detector finds the people when one is installed (``--detector``); otherwise the whole image
is one person. No TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def parse_box(text: str) -> list[float]:
    """``"x,y,w,h"`` -> a box, for the ``--box`` option of the command-line tools."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if (
        len(box) != 4
        or not all(v == v and abs(v) != float("inf") for v in box)
        or min(box[2:]) <= 0
    ):
        raise argparse.ArgumentTypeError(f"box must be x,y,w,h (finite, w, h > 0); got {text!r}")
    return box


def check_output_path(path: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """An output path whose directory exists and whose extension OpenCV can write; raises
    ``ValueError`` naming the problem before any work is done."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ValueError(
            f"output {path}: unknown extension {path.suffix!r}; use one of {', '.join(suffixes)}"
        )
    if not path.parent.is_dir():
        raise ValueError(f"output {path}: directory {path.parent} does not exist")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="danet-estimate", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "images", nargs="*", metavar="IMAGE",
        help="image files (a .tflite / .onnx file first is the model, as --model)",
    )
    parser.add_argument(
        "--model", help="a shipped preset's name or a .tflite / .onnx file exported by danet_tf "
        "(default: the default preset)",
    )
    parser.add_argument(
        "--int8", action="store_true", help="a preset's int8 file instead of its float32 one"
    )
    parser.add_argument(
        "--box", type=parse_box, action="append", help="person box x,y,w,h (repeatable)"
    )
    parser.add_argument(
        "--detector", help="person detector .tflite (default: the installed one, if any)"
    )
    parser.add_argument(
        "--no-detector", action="store_true", help="without --box: the whole image is one person"
    )
    parser.add_argument(
        "--det-thr", type=float, default=None, help="detector score threshold (default 0.3)"
    )
    parser.add_argument(
        "--nms-iou", type=float, default=None, help="detector NMS IoU (default 0.5)"
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--xnnpack", choices=("auto", "on", "off"), default="auto",
                        help="TFLite op resolver: auto follows the model's metadata")  # fmt: skip
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None, help="flip test on")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="flip test off")
    parser.add_argument("--json", action="store_true", help="print the poses as json")
    parser.add_argument("--output", help="write the image with the poses drawn here (one image)")
    parser.add_argument(
        "--threshold", type=float, default=0.2, help="confidence to draw a keypoint"
    )
    parser.add_argument("--no-scores", action="store_true", help="do not label joints and boxes")
    parser.add_argument(
        "--describe", action="store_true", help="print the model's metadata and exit"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as cat does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError, ImportError) as err:  # MetadataError is a ValueError
        print(f"danet-estimate: error: {err}", file=sys.stderr)
        return 2


def split_model_argument(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Set ``args.model`` to a checked path: ``--model``, a model file given first among the
    positional arguments, or the default preset (``--int8`` picks a preset's int8 file)."""
    from danet_edge.presets import resolve_model

    if args.images and Path(args.images[0]).suffix.lower() in (".tflite", ".onnx"):
        if args.model is not None:
            parser.error(f"two models: --model {args.model} and {args.images[0]}")
        args.model = args.images.pop(0)
    if not args.images and not args.describe:
        parser.error("the following arguments are required: IMAGE")
    args.model = str(resolve_model(args.model, "int8" if args.int8 else "float32"))


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import cv2
    import numpy as np

    from danet_edge.draw import draw_poses
    from danet_edge.images import load_image
    from danet_edge.metadata import read_metadata
    from danet_edge.topdown import TopDownPredictor

    split_model_argument(args, parser)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if not 0.0 <= args.threshold <= 1.0:
        parser.error(f"--threshold must be in [0, 1], got {args.threshold}")
    output = None
    if args.output:
        if len(args.images) != 1:
            parser.error("--output draws one image; give one image")
        output = check_output_path(args.output)
    if args.describe:
        print(json.dumps(read_metadata(args.model), indent=1))
        return 0
    detector = None
    if args.box is None and not args.no_detector:
        settings = {k: v for k, v in (("score_threshold", args.det_thr), ("nms_iou", args.nms_iou))
                    if v is not None}  # fmt: skip
        for key, value in settings.items():
            if not 0.0 <= value <= 1.0:
                parser.error(
                    f"--{'det-thr' if key == 'score_threshold' else 'nms-iou'} must be in [0, 1], got {value}"
                )
        detector = load_detector(args.detector, args.threads, **settings)
    xnnpack = {"auto": None, "on": True, "off": False}[args.xnnpack]
    predictor = TopDownPredictor.from_file(
        args.model, args.threads, xnnpack, flip_test=args.flip, detector=detector
    )
    images = [(path, load_image(path)) for path in args.images]  # all checked before any work
    results = []
    best = 0.0
    for path, image in images:
        poses = predictor(image, args.box)
        if len(poses):
            best = max(best, float(np.max(poses.scores)))
        results.append({"image": str(path), "timings_ms": _rounded(poses.timings_ms),
                        "persons": poses.to_json(predictor.names)})  # fmt: skip
        if not args.json:
            _print_text(path, poses, predictor.names)
        if output is not None:
            drawn = draw_poses(image, poses, predictor.names, predictor.skeleton, args.threshold,
                               show_scores=not args.no_scores)  # fmt: skip
            if not cv2.imwrite(str(output), drawn):
                raise OSError(f"cannot write {output}")
    from danet_edge.presets import confidence_note

    if any(len(r["persons"]) for r in results) and (note := confidence_note(
            best, args.model, read_metadata(args.model))):  # fmt: skip
        print(note, file=sys.stderr)
    if args.json:
        report = {"model": {"path": args.model, "threads": args.threads, **predictor.describe()},
                  "detector": None if detector is None else describe_detector(detector)}  # fmt: skip
        if len(results) == 1:
            report.update(results[0])
        else:
            report["images"] = results
        print(json.dumps(report, indent=1))
    return 0


def describe_detector(detector) -> dict:
    """The detector's file and settings, for ``--json`` output."""
    return {"path": str(detector.model_path), "score_threshold": detector.score_threshold,
            "nms_iou": detector.nms_iou}  # fmt: skip


def load_detector(path: str | None, threads: int = 1, **settings):
    """The person detector: ``path``, else the installed one; None when neither exists and
    no path was asked for (the whole image is then one person, and a note says so)."""
    try:
        from danet_edge.detector import PersonDetector, default_detector_path
    except ImportError:
        if path:
            raise
        return None
    if path is None:
        if not Path(default_detector_path()).is_file():
            print(
                "note: no person detector installed, so each image is one person; "
                "make one with `danet-fetch-detector` where danet_tf (TensorFlow) is installed "
                f"and copy it to {default_detector_path()} (or set DANET_DETECTOR), or pass --box",
                file=sys.stderr,
            )
            return None
        path = default_detector_path()
    return PersonDetector(path, num_threads=threads, **settings)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}


def _print_text(path, poses, names) -> None:
    t = poses.timings_ms
    print(f"{path}: {len(poses)} person(s); detect {t['detect']:.1f} ms, pre {t['preprocess']:.1f} ms, "
          f"model {t['model']:.1f} ms, post {t['postprocess']:.1f} ms")  # fmt: skip
    for i, (kpts, scores) in enumerate(zip(poses.keypoints, poses.scores, strict=True)):
        joints = ", ".join(
            f"{n} ({x:.0f},{y:.0f}) {s:.2f}"
            for n, (x, y), s in zip(names, kpts, scores, strict=True)
        )
        print(f"  person {i} (box score {poses.box_scores[i]:.2f}): {joints}")


if __name__ == "__main__":
    sys.exit(main())
