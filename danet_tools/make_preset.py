"""Make a shipped preset from a trained .keras: verified float32 and int8 .tflite files,
measured accuracy, the index entry (maintainers; users load presets by name).

    python tools/make_preset.py --name danet_s_people-128x96 --keras RUN/final.keras \\
        --data DATA --calibration labels/train.json --holdout labels/lspet_val.json \\
        --training training.json [--int8-mode int8-float-ew]

DATA is the root the label jsons' file names are relative to; the COCO val4 persons are
read from DATA/coco_sample/val4.json. ``--training`` is a json object recorded as the
preset's training record (data, teacher, samples, wall time...).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from danet_tools import quiet_tensorflow
from danet_tools.choices import QUANTIZE_MODES

INT8_MODES = [m for m in QUANTIZE_MODES if m.startswith("int8")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--keras", required=True, help="the trained model (final.keras / best.keras)")
    p.add_argument("--data", default=os.environ.get("DANET_DATA", "../shared/data"))
    p.add_argument("--calibration", required=True, help="training json (int8 calibration)")
    p.add_argument("--holdout", required=True, help="held-out json (never trained on)")
    p.add_argument("--training", help="json file: the training record to store")
    p.add_argument("--calibration-count", type=int, default=200,
                   help="training crops the int8 file is calibrated on (default 200)")
    p.add_argument("--int8-mode", default="int8", choices=INT8_MODES,
                   help="how the int8 file is quantized (danet-export --quantize; default int8, "
                   "full integer)")
    p.add_argument("--description", default="")
    p.add_argument("--licence", default="")
    p.add_argument("--not-default", action="store_true", help="do not make it the default")
    args = p.parse_args(argv)
    quiet_tensorflow()
    from danet_tf.presets.make import PresetSpec, make_preset

    data = Path(args.data)
    spec = PresetSpec(
        name=args.name, keras=Path(args.keras), data_root=data,
        calibration=Path(args.calibration), holdout=Path(args.holdout),
        val4=data / "coco_sample" / "val4.json", val4_images=data / "coco_sample" / "images",
        description=args.description,
        training=json.loads(Path(args.training).read_text()) if args.training else {},
        licence=args.licence, default=not args.not_default, calib_count=args.calibration_count,
        int8_mode=args.int8_mode,
    )
    entry = make_preset(spec)
    print(json.dumps(entry, indent=1))
    return 0
