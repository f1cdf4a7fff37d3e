"""Input-pipeline samples/s against the JPEG-decode-only rate on the same images.

python tools/benchmark_data.py                      # $DANET_DATA's COCO sample and LSPET
python tools/benchmark_data.py --data ann.json --images DIR --threads 2
python tools/benchmark_data.py --host-heatmaps --float32   # the pipeline's other outputs

The pipeline runs as `tools/train.py` uses it: training augmentation, uint8 crops and
keypoint targets (the train step renders the heatmaps on its device).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def default_data() -> list[Path]:
    """The COCO sample and LSPET under $DANET_DATA (../shared/data); else synthetic data."""
    root = Path(os.environ.get("DANET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    found = [p for p in (root / "coco_sample" / "train.json", root / "lspet" / "train_coco17.json")
             if p.is_file()]  # fmt: skip
    if found:
        return found
    from danet_tf.data.synthetic import generate

    return [generate(Path.home() / ".cache" / "danet_tf" / "synthetic-bench")["train_annotations"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="COCO keypoint json (repeatable)")
    parser.add_argument("--images", help="image directory (default: beside the json)")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", default="256x192", help="HxW")
    parser.add_argument("--threads", type=int, default=None, help="tf.data threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--host-heatmaps", action="store_true",
                        help="render the heatmap targets in the pipeline (encode_targets=True)")
    parser.add_argument("--float32", action="store_true", help="float32 instead of uint8 crops")
    args = parser.parse_args()

    from danet_tf.benchmarks.data import run_benchmark
    from danet_tf.data import load_coco

    h, w = (int(v) for v in args.input_size.lower().split("x"))
    for data in args.data or default_data():
        dataset = load_coco(data, args.images)
        result = run_benchmark(
            dataset, num_samples=args.samples, batch_size=args.batch_size, input_size=(h, w),
            threads=args.threads, repeats=args.repeats, encode_targets=args.host_heatmaps,
            image_dtype="float32" if args.float32 else "uint8",
        )  # fmt: skip
        print(f"data: {data}")
        print(result.report(), flush=True)


if __name__ == "__main__":
    main()
