#!/usr/bin/env python
"""Measure the person detector: person-box AP50 and recall/precision on the COCO sample,
LSPET recall, ms per image at 1 and 2 threads (the numbers of docs/deployment.md (Person detector)).

    python tools/eval_detector.py                     # $DANET_DATA, the cached detector
    python tools/eval_detector.py --lspet-limit 0 --json detector_eval.json   # all of LSPET
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _pct(v: float) -> str:
    return f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        default=os.environ.get("DANET_DATA", str(DEFAULT_DATA)),
        help="data root with coco_sample/ and lspet/ (default $DANET_DATA)",
    )
    parser.add_argument("--detector", help="the .tflite (default: the detector cache path)")
    parser.add_argument(
        "--lspet-limit", type=int, default=2000, help="first N LSPET images by id (0: all 9,500)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=10, help="timing passes over val4")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)

    from danet_tf.detector.evaluate import evaluate_all

    out = evaluate_all(
        args.data,
        args.detector,
        args.lspet_limit or None,
        tuple(args.threads),
        args.repeats,
        accuracy=not args.speed_only,
    )
    m = out["machine"]
    print(
        f"machine: {m['cpu']} (family {m['cpu_family']}, model {m['cpu_model']}; "
        f"{'+'.join(m['simd'])}), {m['logical_cores']} logical cores; LiteRT "
        f"{m['ai_edge_litert']}, OpenCV {m['opencv']}, numpy {m['numpy']}"
    )
    print(f"detector: {out['detector']}")
    for key in ("val4", "val4_reference_dets", "train78"):
        if key in out:
            r = out[key]
            print(
                f"{key}: {r['images']} images, {r['persons']} persons: AP50 {_pct(r['ap50'])}, "
                f"AP {_pct(r['ap'])}; at score > 0.3: recall {_pct(r['recall'])}, precision "
                f"{_pct(r['precision'])} ({r['true_positives']} TP, {r['false_positives']} FP)"
            )
    if "lspet" in out:
        r = out["lspet"]
        rec = ", ".join(f"padding {p}: {_pct(v)}" for p, v in r["recall"].items())
        print(
            f"lspet: {r['images']} images, recall at IoU 0.5 vs joint extent ({rec}); "
            f"any box: {_pct(r['any_box'])}"
        )
    for s in out["speed"]:
        print(
            f"speed: {s['threads']} thread(s): {s['ms_per_image']:.1f} ms per image "
            f"(median of {s['calls']} calls, p90 {s['ms_per_image_p90']:.1f}), "
            f"invoke {s['ms_invoke']:.1f} ms; load average "
            f"{s['load_average_1min'][0]:.2f} -> {s['load_average_1min'][1]:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
