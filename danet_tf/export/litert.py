"""LiteRT (TFLite) inference without TensorFlow: ``ai_edge_litert`` + numpy only.

Op resolver choice (why DANet turns XNNPACK off): the 9x9 depthwise convolutions of MAU and
SFU run about 4-5x slower under the default XNNPACK delegate than under TFLite's builtin
kernels on x86 CPUs without wide depthwise micro-kernels (measured in docs/deployment.md).
Export writes ``runtime.xnnpack`` into the metadata; :func:`make_interpreter` follows it
unless the caller overrides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def make_interpreter(
    model_path: str | Path,
    num_threads: int = 1,
    xnnpack: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """An allocated LiteRT interpreter.

    Args:
        model_path: the ``.tflite`` file.
        num_threads: CPU threads.
        xnnpack: use the default XNNPACK delegate; None follows ``metadata["runtime"]``
            (and XNNPACK when there is no metadata, LiteRT's own default).
        metadata: the artifact's metadata.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads!r}")
    if xnnpack is None:
        xnnpack = bool(((metadata or {}).get("runtime") or {}).get("xnnpack", True))
    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(
        model_path=str(model_path),
        num_threads=int(num_threads),
        experimental_op_resolver_type=resolver,
    )
    interpreter.allocate_tensors()
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
        self.interpreter = make_interpreter(model_path, num_threads, xnnpack, metadata)
        (self.input,) = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(outputs) != 1:
            names = [o["name"] for o in outputs]
            raise ValueError(f"{model_path}: expected one heatmap output, got {names}")
        self.output = outputs[0]

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, dtype=np.float32)
        expected = tuple(self.input["shape"][1:])
        if crops.ndim != 4 or crops.shape[1:] != expected:
            raise ValueError(
                f"crops must be (N, {', '.join(map(str, expected))}), got {crops.shape}"
            )
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
