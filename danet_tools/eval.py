"""Evaluate a pose model top-down: COCO OKS AP, MPII PCKh@0.5 or LSP PCK@0.2.

    python tools/eval.py --model danet72 --weights W.keras --ann ANN.json --images DIR \\
        [--dets DETS.json] [--flip/--no-flip] [--decode blur_shift] [--out results.json]

--protocol authors evaluates as the DANet authors' test code does (their region, crop,
decoding and person score; no OKS-NMS), to reproduce their published AP with their
converted weights. See docs/evaluation.md.

Exit status: 0 on success; 1 when nothing could be evaluated (e.g. every image missing) or
an input is malformed (the message names the file and the entry); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from danet_edge.choices import DECODE_MODES, PROTOCOLS
from danet_tools import quiet_tensorflow
from danet_tools.choices import DEFAULT_NMS_THRESHOLD, DEFAULT_RESCORE_THRESHOLD, METRICS
from danet_tools.choices import size_arg as _size


def _finite(text: str, ok, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"must be a finite number {what}, got {text!r}")
    return value


def _unit(text: str) -> float:
    return _finite(text, lambda v: 0.0 <= v <= 1.0, "in [0, 1]")


def _positive_float(text: str) -> float:
    return _finite(text, lambda v: v > 0, "> 0")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", help="registry name (random weights without --weights) or a model file")
    p.add_argument("--weights", help="model file: .keras, .tflite (any quantisation), .onnx or SavedModel dir")
    p.add_argument("--ann", required=True, help="COCO keypoint json or MPII (HRNet) json")
    p.add_argument("--images", help="image folder (default: images/ beside the annotations)")
    p.add_argument("--dets", help="person detections, COCO results json (default: GT boxes)")
    p.add_argument("--detector", nargs="?", const="installed", default=None,
                   help="detect the persons with our own person detector (.tflite; no value: "
                        "the installed one, see tools/fetch_detector.py) instead of --dets")  # fmt: skip
    p.add_argument(
        "--det-thr", type=_unit, default=0.0, help="drop detections below this score, in [0, 1]"
    )
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test (default: the model's codec, as its file records it)")  # fmt: skip
    p.add_argument(
        "--protocol", choices=PROTOCOLS, default="danet_tf",
        help="danet_tf: this project's (default); authors: the DANet authors' test code",
    )  # fmt: skip
    p.add_argument("--decode", choices=DECODE_MODES,
                   help="danet_tf only (default: the model's codec, as its file records it)")  # fmt: skip
    p.add_argument("--metric", choices=METRICS, default="auto")
    p.add_argument("--out", help="write the results json here (strict json, written atomically)")
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--input-size", type=_size, default=None, help="HxW, e.g. 256x192")
    p.add_argument(
        "--num-keypoints", type=_positive_int, default=17, help="K when building --model"
    )
    p.add_argument(
        "--nms-thr", type=_unit,
        help=f"OKS-NMS threshold in [0, 1] (danet_tf, coco; default {DEFAULT_NMS_THRESHOLD})",
    )  # fmt: skip
    p.add_argument(
        "--rescore-thr", type=_unit,
        help="keypoint scores above this enter the person score, in [0, 1] (danet_tf; "
        f"default {DEFAULT_RESCORE_THRESHOLD})",
    )  # fmt: skip
    p.add_argument(
        "--heat-range", type=_positive_float,
        help="authors only: the training targets' heatmap peak (default 1, their config)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if not args.model and not args.weights:
        p.error("give --weights or --model")
    if args.protocol == "authors" and (
        args.decode or args.nms_thr is not None or args.rescore_thr is not None
    ):
        p.error(
            "--protocol authors fixes decoding and scoring and has no OKS-NMS: "
            "drop --decode/--nms-thr/--rescore-thr"
        )
    if args.protocol != "authors" and args.heat_range is not None:
        p.error("--heat-range belongs to --protocol authors")
    if args.out and Path(args.out).is_dir():
        p.error(f"--out {args.out} is a directory; give a file name such as results.json")
    return args


def run(args: argparse.Namespace) -> int:
    from danet_tf.evaluation import evaluate_topdown, load_eval_model

    model = load_eval_model(
        args.model, args.weights, input_size=args.input_size, num_keypoints=args.num_keypoints
    )
    options = {}
    if args.protocol == "authors":
        if model.input_mean is None:
            raise ValueError("--protocol authors needs the model's input mean (a danet_tf model)")
        # Their crop border is the mean colour (they warp the normalised image).
        options = {"crop_border": model.input_mean, "heat_range": args.heat_range}
    else:
        if args.nms_thr is not None:
            options["nms_threshold"] = args.nms_thr
        if args.rescore_thr is not None:
            options["rescore_threshold"] = args.rescore_thr
    detector = None
    if args.detector is not None:
        if args.dets is not None:
            raise ValueError("give --dets or --detector, not both")
        from danet_edge.detector import PersonDetector, default_detector_path

        path = default_detector_path() if args.detector == "installed" else args.detector
        # COCO AP ranks by score: keep boxes down to the usual 0.05 floor (or --det-thr).
        detector = PersonDetector(path, num_threads=2, score_threshold=max(args.det_thr, 0.05))
    report = evaluate_topdown(
        model.predict_fn,
        args.ann,
        args.images,
        num_keypoints=model.num_keypoints,
        codec=model.codec,
        dets_file=args.dets,
        detector=detector,
        det_score_threshold=args.det_thr,
        flip=args.flip,
        decode=args.decode,
        metric=args.metric,
        batch_size=args.batch_size,
        out=args.out,
        progress=not args.no_progress,
        protocol=args.protocol,
        **options,
    )
    codec = model.codec
    flip = codec.flip_test if args.flip is None else args.flip
    decode = "authors" if args.protocol == "authors" else args.decode or codec.decode_mode
    print(
        f"{args.weights or args.model}: {report.metric}, protocol={args.protocol}, "
        f"flip={flip}, decode={decode}"
        + ("" if args.protocol == "authors" else f", crop padding={codec.padding:g}")
    )
    print(report.summary(), end="")
    if args.out:
        print(f"results written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    quiet_tensorflow()
    from danet_tf.evaluation.evaluate import NothingEvaluated

    try:
        return run(args)
    except NothingEvaluated as exc:
        print(f"eval.py: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:  # malformed inputs: the message names the file
        print(f"eval.py: error: {exc}", file=sys.stderr)
        return 1

