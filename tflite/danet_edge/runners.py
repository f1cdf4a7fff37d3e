"""Exported model files as callables ``crops (N, H, W, 3) float32 RGB 0-255 -> heatmaps``.

``.tflite`` runs under LiteRT (``ai_edge_litert``), ``.onnx`` under ONNX Runtime (the
``onnx`` extra). Neither imports TensorFlow. ``.keras`` files and SavedModels need
TensorFlow; ``danet_tf.export.runners`` adds them on top of these.

Op resolver choice: export times LiteRT's default XNNPACK delegate and its builtin kernels
on the file it wrote and records the faster in the file's metadata (``runtime.xnnpack``;
XNNPACK for the rewritten deployment graphs on the x86 CPUs measured in docs/deployment.md,
"Op resolver"); :func:`make_interpreter` follows it unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
EDGE_FORMATS = {".tflite": "tflite", ".onnx": "onnx"}


def artifact_format(path: str | Path) -> str:
    """``keras``, ``savedmodel``, ``tflite`` or ``onnx`` from the path; raises otherwise."""
    path = Path(path)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return "savedmodel"
        raise ValueError(f"{path} is a directory without saved_model.pb (not a SavedModel)")
    formats = {**EDGE_FORMATS, ".keras": "keras"}
    if path.suffix.lower() not in formats:
        raise ValueError(
            f"unknown model file {path}: expected .tflite, .onnx, .keras or a SavedModel directory"
        )
    return formats[path.suffix.lower()]


def make_interpreter(
    model_path: str | Path,
    num_threads: int = 1,
    xnnpack: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """An allocated LiteRT interpreter; a file LiteRT cannot read raises naming it.

    Args:
        model_path: the ``.tflite`` file.
        num_threads: CPU threads.
        xnnpack: use the default XNNPACK delegate; None follows ``metadata["runtime"]``
            (and XNNPACK when there is no metadata, LiteRT's own default).
        metadata: the file's DANet metadata.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be an integer >= 1, got {num_threads!r}")
    if xnnpack is None:
        xnnpack = bool(((metadata or {}).get("runtime") or {}).get("xnnpack", True))
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interpreter = Interpreter(
            model_path=str(model_path),
            num_threads=num_threads,
            experimental_op_resolver_type=resolver,
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"LiteRT cannot load {model_path}: {err}") from None
    return interpreter


class LiteRTModel:
    """Callable ``crops (N, H, W, 3) float32 -> heatmaps (N, h, w, K) float32`` over LiteRT.

    Runs the crops one at a time when the model has a fixed batch of 1 (what export writes
    for TFLite); quantized input or output tensors are (de)quantized here.
    """

    def __init__(
        self,
        model_path: str | Path,
        num_threads: int = 1,
        xnnpack: bool | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        self.path = str(model_path)
        self.interpreter = make_interpreter(model_path, num_threads, xnnpack, metadata)
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"{model_path}: a DANet model has one image input and one heatmap output; got "
                f"inputs {[i['name'] for i in inputs]} and outputs {[o['name'] for o in outputs]}"
            )
        self.input, self.output = inputs[0], outputs[0]
        self.input_shape = tuple(int(v) for v in self.input["shape"][1:])

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = _check_crops(crops, self.input_shape, self.path)
        return np.concatenate([self._run(c[None]) for c in crops], axis=0)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        inp, out = self.input, self.output
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            batch = np.clip(np.round(batch / scale + zero), info.min, info.max)
        self.interpreter.set_tensor(inp["index"], batch.astype(inp["dtype"]))
        self.interpreter.invoke()
        result = self.interpreter.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            result = (result.astype(np.float32) - zero) * scale
        return result.astype(np.float32, copy=False)


class OnnxModel:
    """Callable crops -> heatmaps over ONNX Runtime's CPU provider (batched in one call)."""

    def __init__(self, model_path: str | Path, num_threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(
                "running .onnx files needs ONNX Runtime: pip install 'danet-edge[onnx]'"
            ) from None
        self.path = str(model_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(num_threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                self.path, options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"ONNX Runtime cannot load {model_path}: {err}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(
                f"{model_path}: expected one image input, got {[i.name for i in inputs]}"
            )
        self.name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape[1:])

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = _check_crops(crops, self.input_shape, self.path)
        return np.asarray(self.session.run(None, {self.name: crops})[0], np.float32)


def load_edge_model(
    path: str | Path,
    num_threads: int = 1,
    xnnpack: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Predict:
    """The callable of a ``.tflite`` or ``.onnx`` file."""
    fmt = artifact_format(path)
    if fmt == "tflite":
        return LiteRTModel(path, num_threads, xnnpack, metadata)
    if fmt == "onnx":
        return OnnxModel(path, num_threads)
    raise ValueError(
        f"{path} is a {fmt} model, which needs TensorFlow: load it with danet_tf "
        "(danet_tf.export.runners.load_predict), or export it to .tflite or .onnx"
    )


def _check_crops(crops: np.ndarray, expected: tuple, path: str) -> np.ndarray:
    crops = np.ascontiguousarray(crops, dtype=np.float32)
    fixed = tuple(v if isinstance(v, int) else None for v in expected)
    if crops.ndim != 4 or any(
        f is not None and f != c for f, c in zip(fixed, crops.shape[1:], strict=True)
    ):
        want = ", ".join("?" if v is None else str(v) for v in fixed)
        raise ValueError(f"{path}: crops must be (N, {want}), got {crops.shape}")
    return crops
