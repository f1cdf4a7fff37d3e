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

from danet_tf.export.demo import run_demo
from danet_tf.export.topdown import parse_box


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
    args = parser.parse_args(argv)
    summary = run_demo(
        args.source, args.model, args.output, args.box, args.dets, args.threads, args.threshold
    )
    print(json.dumps(summary | {"output": args.output}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
