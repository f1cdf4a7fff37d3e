"""Draw DANet skeletons and keypoint scores on an image or on every frame of a video.

    python tools/demo.py IMAGE_OR_VIDEO --output OUT [--model NAME|PATH] [--dets DETS.json | --box x,y,w,h ...]

Without ``--model`` the default shipped preset runs (its float32 .tflite; ``--int8`` for its
int8 file). ``--model`` takes a preset name or any exported artifact (.tflite, .onnx, a
SavedModel directory) or a .keras model. ``--dets`` is a COCO results json (``bbox``,
``score``, and ``image_id`` matched to a numeric image file name or ``frame`` for videos);
without boxes the person detector finds the people (the whole frame is one person only when
no detector is installed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from danet_edge.cli import parse_box
from danet_tools import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("source", help="image or video file")
    parser.add_argument("--model", help="a shipped preset's name, or a .tflite, .onnx, "
                        "SavedModel dir or .keras (default: the default preset's .tflite)")
    parser.add_argument("--int8", action="store_true",
                        help="a preset's int8 .tflite instead of its float32 one")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dets", help="person detections, COCO results json")
    group.add_argument("--box", type=parse_box, action="append", help="person box x,y,w,h")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.2, help="score to draw a keypoint")
    parser.add_argument("--output", required=True, help="annotated image or video (.mp4)")
    parser.add_argument("--no-scores", action="store_true", help="do not label joints and boxes")
    parser.add_argument("--detector", help="person detector .tflite (default: the installed one)")
    args = parser.parse_args(argv)
    from danet_edge.demo import VIDEO_SUFFIXES, DemoError, needs_tensorflow, run_demo

    try:
        # Everything the user typed is checked before any model (or TensorFlow) loads.
        from danet_edge.cli import IMAGE_SUFFIXES, check_output_path
        from danet_edge.presets import resolve_model

        if not Path(args.source).is_file():
            raise FileNotFoundError(f"input {args.source} does not exist")
        video = Path(args.source).suffix.lower() in VIDEO_SUFFIXES
        check_output_path(args.output, VIDEO_SUFFIXES if video else IMAGE_SUFFIXES)
        model = str(resolve_model(args.model, "int8" if args.int8 else "float32"))
        if needs_tensorflow(model):
            quiet_tensorflow()
        detector = None
        if args.box is None and args.dets is None:
            from danet_edge.cli import load_detector

            detector = load_detector(args.detector, args.threads)
        summary = run_demo(args.source, model, args.output, args.box, args.dets, args.threads,
                           args.threshold, not args.no_scores, detector)  # fmt: skip
    except (DemoError, OSError, ValueError) as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary | {"output": args.output}))
    return 0

