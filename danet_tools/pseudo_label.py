"""Label real photos for training: human keypoints kept, the joints people did not label
filled by an offline teacher (MoveNet SinglePose), unlabelled photos labelled by the person
detector and the teacher; one COCO keypoint json.

    danet-label --data ../shared/data --output labels/train.json --val-output labels/val.json
    danet-label --sources lspet coco --threshold 0.6 --output labels/lspet_coco.json

The teacher is made once at setup (``danet-fetch-teacher``); nothing is downloaded here.
Train on the result with ``danet-train --data labels/train.json --images DATA``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

SOURCES = ("lspet", "coco", "mpii")
TEACHERS = ("movenet_thunder", "movenet_lightning")


def _number(text: str, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number in [{lo}, {hi}], got {text!r}")
    return value


def probability(text: str) -> float:
    return _number(text, 0.0, 1.0)


def padding(text: str) -> float:
    return _number(text, 1.0, 10.0)


def _range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FIRST-LAST image numbers, got {text!r}") from None
    if lo > hi or lo < 0:
        raise argparse.ArgumentTypeError(f"expected FIRST <= LAST, both >= 0, got {text!r}")
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default=os.environ.get("DANET_DATA", "../shared/data"),
                   help="the data root holding lspet/, coco_sample/, mpii_unlabelled/ "
                   "(default $DANET_DATA or ../shared/data)")
    p.add_argument("--output", required=True, help="the training json to write")
    p.add_argument("--val-output", help="also write the held-out LSPET persons (human labels)")
    p.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES),
                   help="which sets to read (default: all three)")
    p.add_argument("--teacher", choices=TEACHERS, default=TEACHERS[0])
    p.add_argument("--teacher-file", help="the teacher .tflite (default: the setup's cache)")
    p.add_argument("--threshold", type=probability, default=0.5,
                   help="teacher confidence a filled joint needs (default 0.5)")
    p.add_argument("--padding", type=padding, default=1.25,
                   help="teacher crop side over the box's longer side (default 1.25)")
    p.add_argument("--holdout", type=_range, default=(9001, 9500),
                   help="LSPET image numbers never trained on (default 9001-9500)")
    p.add_argument("--det-thr", type=probability, default=0.5,
                   help="detector score for a person in unlabelled photos (default 0.5)")
    p.add_argument("--min-joints", type=int, default=8,
                   help="confident teacher joints an unlabelled person needs (default 8)")
    p.add_argument("--limit", type=int, help="at most this many images per source")
    p.add_argument("--threads", type=int, default=2, help="LiteRT threads (default 2)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"danet-label: data root {data} is not a directory", file=sys.stderr)
        return 2
    from danet_tf.teacher.label import LabelConfig, label
    from danet_tf.teacher.movenet import TeacherNotFoundError

    cfg = LabelConfig(
        data_root=data, sources=tuple(args.sources), teacher=args.teacher,
        teacher_path=args.teacher_file, threshold=args.threshold, padding=args.padding,
        holdout=args.holdout, det_threshold=args.det_thr, min_joints=args.min_joints,
        limit=args.limit, num_threads=args.threads,
    )
    try:
        info = label(cfg, Path(args.output), Path(args.val_output) if args.val_output else None)
    except (TeacherNotFoundError, FileNotFoundError) as exc:
        print(f"danet-label: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info["counts"], indent=1))
    print(f"wrote {args.output}" + (f" and {args.val_output}" if args.val_output else ""))
    return 0
