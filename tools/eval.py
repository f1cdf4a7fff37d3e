"""Evaluate a pose model top-down: COCO OKS AP, MPII PCKh@0.5 or LSP PCK@0.2.

    python tools/eval.py --model danet72 --weights W.keras --ann ANN.json --images DIR \
        [--dets DETS.json] [--flip/--no-flip] [--decode blur_shift] [--out results.json]

--protocol authors evaluates as the DANet authors' test code does (their region, crop,
decoding and person score; no OKS-NMS), to reproduce their published AP with their
converted weights. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import logging
import sys

from danet_tf.codec import DECODE_MODES
from danet_tf.evaluation import METRICS, PROTOCOLS, evaluate_topdown, parse_size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", help="registered model name (used without --weights)")
    p.add_argument("--weights", help=".keras model file")
    p.add_argument("--ann", required=True, help="COCO keypoint json or MPII (HRNet) json")
    p.add_argument("--images", help="image folder (default: images/ beside the annotations)")
    p.add_argument("--dets", help="person detections, COCO results json (default: GT boxes)")
    p.add_argument("--det-thr", type=float, default=0.0, help="drop detections below this score")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="flip test")
    p.add_argument(
        "--protocol", choices=PROTOCOLS, default="danet_tf",
        help="danet_tf: this project's (default); authors: the DANet authors' test code",
    )  # fmt: skip
    p.add_argument("--decode", choices=DECODE_MODES, help="danet_tf only (default blur_shift)")
    p.add_argument("--metric", choices=METRICS, default="auto")
    p.add_argument("--out", help="write the results json here")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--input-size", type=parse_size, default=None, help="HxW, e.g. 256x192")
    p.add_argument("--num-keypoints", type=int, default=17, help="K when building --model")
    p.add_argument("--nms-thr", type=float, help="OKS-NMS threshold (danet_tf, coco; default 0.9)")
    p.add_argument(
        "--heat-range", type=float,
        help="authors only: the training targets' heatmap peak (default 1, their config)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if not args.model and not args.weights:
        p.error("give --weights or --model")
    if args.protocol == "authors" and (args.decode or args.nms_thr is not None):
        p.error("--protocol authors fixes decoding and has no OKS-NMS: drop --decode/--nms-thr")
    if args.protocol != "authors" and args.heat_range is not None:
        p.error("--heat-range belongs to --protocol authors")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from danet_tf.evaluation import keras_predict_fn, load_pose_model, model_io_shapes

    size = args.input_size or (256, 192)
    model = load_pose_model(
        args.model, args.weights, input_size=size, num_keypoints=args.num_keypoints
    )
    input_size, heatmap_size, k = model_io_shapes(model, size if args.input_size else None)
    options = {}
    if args.protocol == "authors":
        from danet_tf.models import input_normalization

        # Their crop border is the mean colour (they warp the normalised image).
        options = {"crop_border": input_normalization(model)[0], "heat_range": args.heat_range}
    elif args.nms_thr is not None:
        options = {"nms_threshold": args.nms_thr}
    report = evaluate_topdown(
        keras_predict_fn(model),
        args.ann,
        args.images,
        num_keypoints=k,
        input_size=input_size,
        heatmap_size=heatmap_size,
        dets_file=args.dets,
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
    decode = "authors" if args.protocol == "authors" else args.decode or "blur_shift"
    print(
        f"{args.weights or args.model}: {report.metric}, protocol={args.protocol}, "
        f"flip={args.flip}, decode={decode}"
    )
    print(report.summary(), end="")
    if args.out:
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
