"""Print parameters and GMACs of registered models next to the paper's numbers.

    python tools/complexity.py [--models danet72 danet88 ...] [--json]

Counting rule: see danet_tf/models/complexity.py (trainable parameters; one
multiply-add of conv / depthwise / transposed-conv / dense layers = one MAC); the
paper is compared with the count without transposed convolutions (GMACs*).
--json rows: model, table, row, paper_gflops, paper_params_m, params_m, gmacs,
gmacs_paper_convention, the ratios, and with --coarse-heads the heads' cost.
"""

from __future__ import annotations

import argparse
import json

from danet_tools import quiet_tensorflow


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="registered models (default: all of danet_tf.list_models())")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    parser.add_argument("--coarse-heads", action="store_true",
                        help="also count the three coarse heads training uses (slower)")
    args = parser.parse_args(argv)
    quiet_tensorflow()
    import danet_tf
    from danet_tf.models.complexity import CONVENTION, complexity_report

    known = danet_tf.list_models()
    unknown = [name for name in args.models or () if name not in known]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)}; known: {', '.join(known)}")
    rows = complexity_report(args.models or known, coarse_heads=args.coarse_heads)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"Counting convention: {CONVENTION}.\n")
    header = (f"{'model':22} {'table':>5} {'row':>15} {'params M':>9} {'paper':>6} {'ratio':>6} "
              f"{'GMACs*':>7} {'paper':>6} {'ratio':>6} {'GMACs all':>9}")
    if args.coarse_heads:
        header += f" {'+heads M':>8} {'+heads G':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        line = (
            f"{r['model']:22} {_fmt(r['table'], 's'):>5} {_fmt(r['row'], 's'):>15} "
            f"{r['params_m']:9.3f} {_fmt(r['paper_params_m'], '.1f'):>6} "
            f"{_fmt(r['params_ratio'], '.3f'):>6} {r['gmacs_paper_convention']:7.3f} "
            f"{_fmt(r['paper_gflops'], '.2f'):>6} {_fmt(r['gmacs_ratio'], '.3f'):>6} "
            f"{r['gmacs']:9.3f}"
        )
        if args.coarse_heads:
            line += (f" {_fmt(r.get('coarse_heads_params_m'), '.3f'):>8} "
                     f"{_fmt(r.get('coarse_heads_gmacs'), '.3f'):>8}")
        print(line)
    print("\nGMACs*: the paper's convention (no transposed convolutions); GMACs all: every layer.")
    for r in rows:
        if "cross_check" in r:
            c = r["cross_check"]
            print(f"cross-check {r['model']}: {c['source']} {c['params_m']} M / {c['gmacs']} "
                  f"GMACs, ours {r['params_m']:.3f} M / {r['gmacs']:.3f} GMACs")
        if r["paper_note"] and r["paper_note"].startswith("Table IX"):
            print(f"note {r['model']}: {r['paper_note']}")
    return 0

