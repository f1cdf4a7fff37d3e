"""Estimate human poses in one image with an exported DANet ``.tflite`` model (no TensorFlow).

    python tflite/estimate.py MODEL.tflite IMAGE [--box x,y,w,h ...] [--json] [--output out.jpg]

Without ``--box`` the whole image is one person.
"""

from __future__ import annotations

import argparse
import json
import sys

import cv2
from pose_estimator import TFLitePoseEstimator, draw_poses, parse_box


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("model", help=".tflite model exported by tools/export.py")
    parser.add_argument("image", help="image file")
    parser.add_argument("--box", type=parse_box, action="append", help="person box x,y,w,h")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--xnnpack", choices=("auto", "on", "off"), default="auto",
                        help="op resolver: auto follows the model's metadata")  # fmt: skip
    parser.add_argument("--flip", action="store_true", help="flip test (averaged with the mirror)")
    parser.add_argument("--json", action="store_true", help="print the poses as json")
    parser.add_argument("--output", help="write the image with the poses drawn here")
    parser.add_argument("--threshold", type=float, default=0.2, help="score to draw a keypoint")
    args = parser.parse_args(argv)

    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        parser.error(f"cannot read image {args.image!r}")
    xnnpack = {"auto": None, "on": True, "off": False}[args.xnnpack]
    estimator = TFLitePoseEstimator(args.model, args.threads, xnnpack, flip_test=args.flip)
    poses = estimator(image, args.box)
    if args.json:
        print(json.dumps({"model": estimator.describe(), "timings_ms": poses.timings_ms,
                          "persons": poses.to_json(estimator.names)}, indent=1))  # fmt: skip
    else:
        t = poses.timings_ms
        print(f"{len(poses.boxes)} person(s); pre {t['preprocess']:.1f} ms, model "
              f"{t['model']:.1f} ms, post {t['postprocess']:.1f} ms")  # fmt: skip
        for i, (kpts, scores) in enumerate(zip(poses.keypoints, poses.scores, strict=True)):
            joints = ", ".join(
                f"{n} ({x:.0f},{y:.0f}) {s:.2f}"
                for n, (x, y), s in zip(estimator.names, kpts, scores, strict=True)
            )
            print(f"person {i}: {joints}")
    if args.output:
        drawn = draw_poses(image, poses, estimator.skeleton, args.threshold)
        if not cv2.imwrite(args.output, drawn):
            parser.error(f"cannot write {args.output!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
