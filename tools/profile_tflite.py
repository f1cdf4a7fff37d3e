"""Per-op-type time (ms and share) of .tflite files under LiteRT, XNNPACK and builtin kernels.

python tools/profile_tflite.py model.tflite [more.tflite] [--resolvers xnnpack,builtin]
    [--threads 1] [--rounds 20] [--top 15] [--json profile.json]

Every distinct op (type, shapes, options) is cut out as a one-op model at its real shapes
and timed in interleaved rounds together with the whole model (danet_tf.benchmarks.profiling);
the table lists each op type's count, total ms and share of the sum over the ops.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from danet_tf.benchmarks.profiling import profile_tflite


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=".tflite files")
    parser.add_argument("--resolvers", default="xnnpack,builtin")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--top", type=int, default=10, help="also list the N slowest ops")
    parser.add_argument("--json", help="write the profiles here")
    args = parser.parse_args(argv)
    resolvers = [r.strip() for r in args.resolvers.split(",") if r.strip()]
    if not set(resolvers) <= {"xnnpack", "builtin"}:
        parser.error(f"--resolvers: xnnpack and/or builtin, got {args.resolvers!r}")
    found = []
    print(f"1-min load average {os.getloadavg()[0]:.2f}", flush=True)
    for path in args.models:
        for resolver in resolvers:
            profile = profile_tflite(path, args.threads, resolver == "xnnpack", args.rounds)
            print(profile.table(args.top) + "\n", flush=True)
            record = asdict(profile)
            record["by_type"] = profile.by_type()
            found.append(record)
    print(f"1-min load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
