"""Export a DANet model and verify the artifact against the Keras model on real person crops.

    python tools/export.py --model danet72 --weights W.keras --format tflite --quantize int8 \\
        --calib-data ANN.json --images DIR --output danet72_int8.tflite

Writes the artifact atomically with its metadata embedded in the file (``--sidecar`` also
writes ``<artifact>.json``); exits non-zero when the artifact disagrees with the Keras model
beyond the bounds of its mode (danet_tf.export.verify), unless ``--allow-unverified`` (the
artifact is then marked unverified in its metadata and the runtimes warn when loading it).
"""

from __future__ import annotations

import argparse
import sys

from danet_tools import quiet_tensorflow
from danet_tools.choices import FORMATS, QUANTIZE_MODES
from danet_tools.choices import size_arg as _size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", help="registry name (danet72) or a .keras model file")
    parser.add_argument("--weights", help=".keras model or .weights.h5 (default: random weights)")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--quantize", default="none", choices=QUANTIZE_MODES, help="TFLite only")
    parser.add_argument("--qat-epochs", type=int, default=0, help="int8 via QAT for N epochs")
    parser.add_argument("--qat-lr", type=float, default=None,
                        help="QAT fine-tuning learning rate (Adam; default 1e-5)")  # fmt: skip
    parser.add_argument("--calib-data", help="COCO keypoint json of real persons")
    parser.add_argument("--images", help="image directory of --calib-data")
    parser.add_argument("--calib-count", type=int, default=200, help="crops (1 in 5 verifies)")
    parser.add_argument("--input-size", type=_size, default=None,
                        help="HxW (e.g. 256x192) when building from the registry")  # fmt: skip
    parser.add_argument("--num-keypoints", type=int, default=17)
    parser.add_argument(
        "--batch", type=int, default=None, help="SavedModel batch (default dynamic)"
    )
    parser.add_argument("--output", required=True)
    parser.add_argument("--allow-unverified", action="store_true",
                        help="write an artifact that fails verification, marked unverified")  # fmt: skip
    parser.add_argument("--sidecar", action="store_true",
                        help="also write the embedded metadata as <artifact>.json")  # fmt: skip
    args = parser.parse_args(argv)
    if args.model is None and args.weights is None:
        parser.error("give --model NAME (random weights), --model FILE.keras or --weights FILE")
    if args.qat_lr is not None and (args.qat_epochs < 1 or not args.qat_lr > 0):
        parser.error(f"--qat-lr {args.qat_lr}: needs --qat-epochs N >= 1 and a rate > 0")
    quiet_tensorflow()
    from danet_tf.export.api import export_model, model_codec
    from danet_tf.export.verify import ExportVerificationError
    from danet_tools.sources import crops_for, keypoints_for, load_source_model, model_file

    try:
        model = load_source_model(args.model, args.weights, args.input_size, args.num_keypoints)
        source = model_file(args.model, args.weights)
        codec = model_codec(model, source)
        crops = crops_for(codec, args.calib_data, args.images, args.calib_count)
    except (OSError, ValueError) as err:
        print(f"export: error: {err}", file=sys.stderr)
        return 2
    calibration, verification = crops.split()
    try:
        export_model(
            model,
            args.output,
            args.format,
            verification,
            quantize=args.quantize,
            qat_epochs=args.qat_epochs,
            qat_learning_rate=args.qat_lr,
            calibration=calibration,
            weights_path=source,
            codec=codec,
            keypoints=keypoints_for(args.calib_data, int(model.output_shape[-1])),
            batch=args.batch,
            model_name=model.name,
            allow_unverified=args.allow_unverified,
            sidecar=args.sidecar,
        )
    except ExportVerificationError as err:
        print(f"export FAILED verification: {err}\n(nothing written; --allow-unverified writes "
              "it anyway, marked unverified in its metadata)", file=sys.stderr)  # fmt: skip
        return 2
    return 0

