"""Draw DANet skeletons and keypoint scores on an image or on every frame of a video.

    python tools/demo.py IMAGE_OR_VIDEO --model danet72_int8.tflite [--dets DETS.json | --box x,y,w,h ...] --output OUT

The model is any exported artifact (.tflite, .onnx, a SavedModel directory) or a .keras
model. ``--dets`` is a COCO results json (``bbox``, ``score``, and ``image_id`` matched to a
numeric image file name or ``frame`` for videos); without boxes the whole frame is one person.
"""

from __future__ import annotations

import argparse
import json
import sys

from danet_edge.cli import parse_box
from danet_tools import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("source", help="image or video file")
    parser.add_argument("--model", required=True, help=".tflite, .onnx, SavedModel dir or .keras")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dets", help="person detections, COCO results json")
    group.add_argument("--box", type=parse_box, action="append", help="person box x,y,w,h")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.2, help="score to draw a keypoint")
    parser.add_argument("--output", required=True, help="annotated image or video (.mp4)")
    parser.add_argument("--no-scores", action="store_true", help="do not label joints and boxes")
    parser.add_argument("--detector", help="person detector .tflite (default: the installed one)")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    from danet_tf.export.demo import DemoError, run_demo

    try:
        detector = None
        if args.box is None and args.dets is None:
            from danet_edge.cli import load_detector

            detector = load_detector(args.detector, args.threads)
        summary = run_demo(args.source, args.model, args.output, args.box, args.dets, args.threads,
                           args.threshold, not args.no_scores, detector)  # fmt: skip
    except (DemoError, OSError, ValueError) as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary | {"output": args.output}))
    return 0

