"""Print the measured cost of the heatmap codec per person (encode and each decode mode).

python tools/benchmark_codec.py [--input-size 256x192] [--batch-sizes 1 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform

import cv2
import numpy as np

from danet_tf.benchmarks.codec import benchmark_codec
from danet_tf.codec import HeatmapCodec


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--input-size", default="256x192", help="crop HxW; heatmaps are 1/4 of it")
    p.add_argument("--num-keypoints", type=int, default=17)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="OpenCV threads (default: OpenCV's)")
    args = p.parse_args()
    h, w = (int(v) for v in args.input_size.lower().split("x"))
    codec = HeatmapCodec((h, w), (h // 4, w // 4))
    rows = benchmark_codec(codec, args.num_keypoints, args.batch_sizes, args.repeats, args.threads)
    print(
        f"{codec}, K={args.num_keypoints}; {_cpu_name()} ({os.cpu_count()} CPUs), numpy "
        f"{np.__version__}, OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)"
    )
    print(f"{'op':<20s} {'batch':>5s} {'ms/person':>10s}")
    for r in rows:
        print(f"{r['op']:<20s} {r['batch']:>5d} {r['ms_per_person']:>10.3f}")


if __name__ == "__main__":
    main()
