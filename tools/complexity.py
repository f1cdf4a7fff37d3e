"""Print parameters and GMACs of registered models next to the paper's numbers.

    python tools/complexity.py [--models danet72 danet88 ...] [--json]

Counting rule: see danet_tf/models/complexity.py (trainable parameters; one
multiply-add of conv / depthwise / transposed-conv / dense layers = one MAC).
"""

from __future__ import annotations

import argparse
import json

import danet_tf
from danet_tf.models.complexity import complexity_report


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=danet_tf.list_models(),
                        choices=danet_tf.list_models(), metavar="NAME")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args()
    rows = complexity_report(args.models)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    header = (f"{'model':22} {'input':>7} {'params M':>9} {'paper':>6} {'ratio':>6} "
              f"{'GMACs':>7} {'paper':>6} {'ratio':>6} {'GMACs w/o deconv':>17}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['model']:22} {r['input']:>7} {r['params_m']:9.3f} "
            f"{_fmt(r['paper_params_m'], '.1f'):>6} {_fmt(r['params_ratio'], '.3f'):>6} "
            f"{r['gmacs']:7.3f} {_fmt(r['paper_gmacs'], '.2f'):>6} "
            f"{_fmt(r['gmacs_ratio'], '.3f'):>6} {r['gmacs_without_transpose']:17.3f}"
        )


if __name__ == "__main__":
    main()
