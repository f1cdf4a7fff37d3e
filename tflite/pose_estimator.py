"""DANet pose estimation on the edge: LiteRT + numpy + OpenCV + the shared codec, no TensorFlow.

Usage::

    from pose_estimator import TFLitePoseEstimator
    estimator = TFLitePoseEstimator("danet72_int8.tflite", num_threads=2)
    poses = estimator(cv2.imread("image.jpg"), boxes=[[x, y, w, h]])
    poses.keypoints  # (N, K, 2) image pixels; poses.scores (N, K)

Everything model-specific (input size, decode mode, keypoint names, flip pairs, skeleton,
the op resolver) comes from the ``<model>.tflite.json`` metadata that export writes.

Imports: the codec and the shared top-down pipeline live in the ``danet_tf`` package, whose
``__init__`` imports Keras (and so TensorFlow, ~5 s and 2 GB) whenever it is installed.
:func:`edge_modules` loads just the numpy modules under a temporary empty parent package and
then forgets the package, so a later ``import danet_tf`` in the same process is unaffected.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

EDGE_MODULES = (
    "danet_tf.codec",
    "danet_tf.export.metadata",
    "danet_tf.export.topdown",
    "danet_tf.export.litert",
)


def edge_modules() -> dict[str, types.ModuleType]:
    """The TensorFlow-free danet_tf modules, imported without running ``danet_tf/__init__``."""
    if "danet_tf" in sys.modules:  # already paid for: share the loaded package
        return {name: importlib.import_module(name) for name in EDGE_MODULES}
    spec = importlib.util.find_spec("danet_tf")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the danet_tf package (its codec) is not installed: pip install danet_tf")
    parent = types.ModuleType("danet_tf")
    parent.__path__ = list(spec.submodule_search_locations)
    sys.modules["danet_tf"] = parent
    try:
        return {name: importlib.import_module(name) for name in EDGE_MODULES}
    finally:
        for name in [n for n in sys.modules if n == "danet_tf" or n.startswith("danet_tf.")]:
            del sys.modules[name]


_MODULES = edge_modules()
_metadata = _MODULES["danet_tf.export.metadata"]
_topdown = _MODULES["danet_tf.export.topdown"]
_litert = _MODULES["danet_tf.export.litert"]

Poses = _topdown.Poses
draw_poses = _topdown.draw_poses
parse_box = _topdown.parse_box


class TFLitePoseEstimator(_topdown.PoseEstimator):
    """Top-down pose estimation with an exported DANet ``.tflite`` model.

    Args:
        model_path: the ``.tflite`` file; ``<model_path>.json`` metadata must be beside it.
        num_threads: CPU threads for LiteRT.
        xnnpack: force the XNNPACK delegate on or off; None follows the metadata, which
            export fills with the faster resolver it measured (DANet's 9x9 depthwise
            convolutions are ~4x slower under XNNPACK on x86 without it).
        flip_test: average with the mirrored crop (twice the model time).

    Call arguments:
        image: (H, W, 3) uint8 BGR (``rgb=True`` for RGB).
        boxes: person boxes x, y, w, h in image pixels; None: the whole image is one person.

    Returns:
        ``Poses``: keypoints (N, K, 2) and scores (N, K) in image pixels, plus timings.
    """

    def __init__(
        self,
        model_path: str | Path,
        num_threads: int = 1,
        xnnpack: bool | None = None,
        flip_test: bool = False,
    ):
        metadata = _metadata.read_metadata(model_path)
        self.model = _litert.LiteRTModel(model_path, num_threads, xnnpack, metadata)
        super().__init__(self.model, metadata, flip_test=flip_test)
        self.model_path = str(model_path)
        self.num_threads = num_threads
        self.uses_xnnpack = (
            xnnpack if xnnpack is not None else metadata.get("runtime", {}).get("xnnpack", True)
        )

    def describe(self) -> dict[str, Any]:
        """What this estimator runs: model, threads, op resolver, input size, keypoints."""
        return {
            "model": self.model_path,
            "threads": self.num_threads,
            "op_resolver": "AUTO (XNNPACK)"
            if self.uses_xnnpack
            else "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
            "input_size": list(self.input_size),
            "keypoints": len(self.names),
            "quantization": self.metadata.get("quantization", {}).get("mode"),
        }
