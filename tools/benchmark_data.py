"""Input-pipeline samples/s against the JPEG-decode-only rate on the same images.

python tools/benchmark_data.py                      # $DANET_DATA/lspet, else synthetic
python tools/benchmark_data.py --data ann.json --images DIR --threads 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="COCO keypoint json (default: lspet or synthetic)")
    parser.add_argument("--images", help="image directory (default: beside the json)")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", default="256x192", help="HxW")
    parser.add_argument("--threads", type=int, default=None, help="tf.data threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keypoint-targets",
        action="store_true",
        help="yield keypoints instead of heatmaps (encode_targets=False)",
    )
    args = parser.parse_args()

    from danet_tf.data import load_coco
    from danet_tf.data.benchmark import run_benchmark

    data = args.data
    if data is None:
        root = Path(
            os.environ.get("DANET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
        )
        lspet = root / "lspet" / "train_coco17.json"
        if lspet.is_file():
            data = lspet
        else:
            from danet_tf.data.synthetic import generate

            data = generate(Path.home() / ".cache" / "danet_tf" / "synthetic-bench")[
                "train_annotations"
            ]
    h, w = (int(v) for v in args.input_size.lower().split("x"))
    result = run_benchmark(load_coco(data, args.images), num_samples=args.samples,
                           batch_size=args.batch_size, input_size=(h, w), threads=args.threads,
                           repeats=args.repeats, encode_targets=not args.keypoint_targets)  # fmt: skip
    print(f"data: {data}")
    print(result.report())


if __name__ == "__main__":
    main()
