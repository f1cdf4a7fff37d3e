"""CPU benchmark: ms per person and persons/s for Keras, TFLite (fp32/fp16/int8, with and
without XNNPACK) and ONNX Runtime, at each thread count, against the float32 matmul ceiling.

    python tools/benchmark.py --model danet72 [--weights W.keras] [--runtimes keras,onnxruntime]
        [--threads 1,2] [--json out.json]

Artifacts are exported and verified once into --workdir and reused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from danet_tools import quiet_tensorflow
from danet_tools.choices import DEFAULT_INPUT_SIZE, RUNTIMES, size_arg


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", default="danet72")
    parser.add_argument("--weights", help=".keras model or .weights.h5 (default: random weights)")
    parser.add_argument(
        "--input-size", type=size_arg, default=DEFAULT_INPUT_SIZE,
        help="HxW when building from the registry (default 256x192)"
    )
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help=f"of: {', '.join(RUNTIMES)}")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--calib-data", help="COCO keypoint json (default $DANET_DATA/coco_sample)")
    parser.add_argument("--images", help="image directory of --calib-data")
    parser.add_argument("--image", help="image to time end to end (default: a coco_sample image)")
    parser.add_argument("--box", default=None, help="x,y,w,h of the person in --image")
    parser.add_argument("--agreement-data", help="COCO json of real persons for int8-vs-fp32 OKS")
    parser.add_argument("--agreement-images", help="image directory of --agreement-data")
    parser.add_argument("--agreement-count", type=int, default=200)
    parser.add_argument("--whole-image", action="store_true",
                        help="also time the person detector and whole images with 1, 3 and 8 "
                             "persons (float32 TFLite, the installed detector)")  # fmt: skip
    parser.add_argument("--detector", help="person detector .tflite for --whole-image")
    parser.add_argument("--workdir", default="work_dirs/benchmark")
    parser.add_argument("--json", help="write the results here")
    return parser


def _timed_image(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """(image path, person box) to time end to end: --image/--box, else the coco_sample
    person with the most labelled keypoints."""
    from danet_tools.sources import default_calibration

    if args.image is None:
        found = default_calibration()
        if found is None:
            parser.error("pass --image and --box (no $DANET_DATA/coco_sample)")
        data = json.loads(found[0].read_text())
        ann = max(data["annotations"], key=lambda a: a["num_keypoints"])
        name = next(i["file_name"] for i in data["images"] if i["id"] == ann["image_id"])
        return str(found[1] / name), list(ann["bbox"])
    box = [float(v) for v in (args.box or "").split(",") if v]
    if len(box) != 4:
        parser.error(f"--box must be x,y,w,h with --image, got {args.box!r}")
    return args.image, box


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    quiet_tensorflow()
    from danet_tf.benchmarks.deployment import (
        artifact_name,
        format_table,
        format_whole_image,
        quantized_agreement,
        run_benchmark,
        whole_image_timings,
    )
    from danet_tf.data.calibration import person_crops
    from danet_tf.export.api import model_codec
    from danet_tf.export.verify import TIMING_ONLY
    from danet_tools.sources import crops_for, load_source_model, model_file

    size = args.input_size
    model = load_source_model(args.model, args.weights, size)
    source = model_file(args.model, args.weights)
    codec = model_codec(model, source)
    crops = crops_for(codec, args.calib_data, args.images)
    image, box = _timed_image(args, parser)
    h, w = model.input_shape[1:3]
    workdir = Path(args.workdir) / f"{args.model}_{h}x{w}"
    results = run_benchmark(
        model, args.model, workdir, crops, image, list(box),
        runtimes=args.runtimes.split(","), threads=[int(t) for t in args.threads.split(",")],
        repeats=args.repeats, weights_path=source, bounds=None if args.weights else TIMING_ONLY,
    )  # fmt: skip
    if args.agreement_data:
        held_out = person_crops(
            args.agreement_data, args.agreement_images, codec, args.agreement_count
        )
        results["agreement"] = quantized_agreement(workdir, args.model, held_out)
    print(format_table(results))
    if args.whole_image:
        runtime = next((r for r in args.runtimes.split(",") if r.startswith("tflite-fp32")), None)
        if runtime is None:
            parser.error("--whole-image times the float32 TFLite file: include tflite-fp32-* runtimes")
        tflite = workdir / artifact_name(args.model, runtime)
        results["whole_image"] = whole_image_timings(
            tflite, image, args.detector, tuple(int(t) for t in args.threads.split(",")),
            repeats=max(3, args.repeats // 2),
        )  # fmt: skip
        print("\nwhole image (detector + pose crops batched, single pass):")
        print(format_whole_image(results["whole_image"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0

