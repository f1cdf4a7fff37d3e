"""Convert the DANet authors' MegEngine checkpoint to a verified .keras model.

    python tools/convert_megengine.py danet72_256x192_69_8.pkl --output danet72_authors.keras \\
        [--model danet72_authors] [--input-size 256x192] [--multi-scale]

The architecture is read from the checkpoint's tensor shapes; --model, when given, must
agree (the error names the stage that differs). The checkpoint is unpickled with an
allow-list (numpy arrays, dicts, numbers, strings): anything else is refused unrun.
The .keras file is written atomically, reloaded and compared before it is reported.
"""

from __future__ import annotations

import argparse
import sys

from danet_edge.choices import DEFAULT_INPUT_SIZE
from danet_tools import quiet_tensorflow
from danet_tools.choices import size_arg


def _triple(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 < v < 256 for v in values):
        raise argparse.ArgumentTypeError(f"expected three numbers in (0, 256) like 1,2,3, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", help="MegEngine .pkl (state dict or training checkpoint)")
    parser.add_argument("--output", required=True, help="the .keras file to write")
    parser.add_argument("--model", help="registered *_authors model the checkpoint must fit")
    parser.add_argument("--input-size", type=size_arg, default=DEFAULT_INPUT_SIZE, help="HxW")
    parser.add_argument(
        "--multi-scale", action="store_true", help="keep all four heatmap levels (fine-tuning)"
    )
    parser.add_argument("--bgr-mean", type=_triple, default=None,
                        help="the authors' B,G,R means, 0-255 (default: their config's, "
                             "danet_tf.convert.megengine.BGR_MEAN)")
    parser.add_argument("--bgr-std", type=_triple, default=None,
                        help="the authors' B,G,R stds, 0-255 (default: their config's, "
                             "danet_tf.convert.megengine.BGR_STD)")  # fmt: skip
    args = parser.parse_args(argv)
    quiet_tensorflow()
    from danet_tf.convert import CheckpointMismatchError, UnsafeCheckpointError, convert_checkpoint
    from danet_tf.convert.megengine import BGR_MEAN, BGR_STD

    try:
        result = convert_checkpoint(
            args.checkpoint, args.output, model=args.model, input_size=args.input_size,
            multi_scale=args.multi_scale, bgr_mean=args.bgr_mean or BGR_MEAN, bgr_std=args.bgr_std or BGR_STD,
        )  # fmt: skip
    except (FileNotFoundError, UnsafeCheckpointError, CheckpointMismatchError, ValueError) as err:
        print(f"conversion FAILED: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the output directory: read-only, full, missing permissions
        print(f"conversion FAILED: {err.strerror or err}", file=sys.stderr)
        return 1
    source = result.source
    print(f"{args.checkpoint} (sha256 {source['sha256']})")
    print(f"  architecture: {source['architecture']}")
    print(
        f"wrote {result.path}: model {result.model_name!r}, {result.params:,} weights, "
        f"reloaded output identical to {result.reload_max_abs_diff:.1g}"
    )
    return 0

