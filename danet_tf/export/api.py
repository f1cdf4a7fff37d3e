"""``export_model``: write one artifact with its metadata inside, verified, atomically.

The order is fixed so that nothing unverified is ever reported as written: convert into a
scratch path, run that artifact on verification crops against the Keras model (raise
:class:`~danet_tf.export.verify.ExportVerificationError` beyond the mode's bounds, unless
``allow_unverified``), embed the metadata (with the verification numbers) in the file, check
that the file's metadata reads back and its outputs are unchanged, then rename it into place.
Model and metadata are one file, so they can never be paired wrongly.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from danet_edge.choices import FORMATS  # declared there, TensorFlow-free, for --help
from danet_tf.atomic import atomic_path
from danet_tf.codec import HeatmapCodec, KeypointInfo
from danet_tf.data.calibration import CropSet
from danet_tf.export import converters
from danet_tf.export import metadata as meta_lib
from danet_tf.export.runners import keras_predict, load_predict
from danet_tf.export.verify import Bounds, ExportVerificationError, Report, verify


@dataclass
class ExportResult:
    """Where the artifact went, what verification measured, and whether it passed."""

    path: Path
    report: Report | None
    metadata: dict[str, Any]
    verified: bool = True
    sidecar: Path | None = None


def mode_name(fmt: str, quantize: str = "none", qat_epochs: int = 0) -> str:
    """The verification mode (key of ``verify.BOUNDS``) of a format/quantization pair."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if quantize not in converters.QUANTIZE_MODES:
        raise ValueError(
            f"unknown quantize mode {quantize!r}; known: {', '.join(converters.QUANTIZE_MODES)}"
        )
    if fmt != "tflite":
        if quantize != "none" or qat_epochs:
            raise ValueError(f"quantization ({quantize!r}, qat_epochs={qat_epochs}) is TFLite-only")
        return fmt
    if qat_epochs:
        if quantize != "int8":
            raise ValueError(f"QAT writes an int8 model; got quantize={quantize!r}")
        return "tflite-qat"
    return "tflite" if quantize == "none" else f"tflite-{quantize}"


def export_model(
    model: Any,
    output: str | Path,
    fmt: str,
    crops: CropSet,
    quantize: str = "none",
    qat_epochs: int = 0,
    qat_learning_rate: float | None = None,
    calibration: CropSet | None = None,
    weights_path: str | Path | None = None,
    keypoints: KeypointInfo | None = None,
    batch: int | None = None,
    bounds: Bounds | None = None,
    model_name: str | None = None,
    codec: HeatmapCodec | None = None,
    allow_unverified: bool = False,
    sidecar: bool = False,
) -> ExportResult:
    """Export ``model`` (a single-output Keras 3 DANet model) and verify the artifact.

    Args:
        model: the Keras model (``image`` -> ``heatmaps``).
        output: artifact path (a directory for SavedModel).
        fmt: ``keras``, ``savedmodel``, ``tflite`` or ``onnx``.
        crops: real person crops to verify on (see :mod:`danet_tf.data.calibration`).
        quantize: TFLite only: ``none``, ``fp16``, ``dynamic``, ``int8``, ``int8-float-dw``
            or ``int8-float-ew`` (int8 with some ops in float32, `converters.FLOAT_OPS`).
        qat_epochs: with ``quantize="int8"``: quantization-aware fine-tuning epochs.
        qat_learning_rate: Adam learning rate of that fine-tuning (None: 1e-5,
            ``qat.QAT_LEARNING_RATE``).
        calibration: crops for int8 calibration / QAT fine-tuning (required for those).
        weights_path: the source weights file, hashed into the metadata.
        keypoints: keypoint metadata; COCO-17 when None and K == 17.
        batch: SavedModel batch size (None: dynamic). TFLite is always batch 1.
        bounds: override the mode's verification bounds.
        model_name: the architecture recorded in the metadata (default the model's name).
        codec: the codec settings to record (default :func:`model_codec`).
        allow_unverified: write an artifact that failed verification, marked
            ``verification.passed: false`` in its metadata (the runtimes warn when loading it).
        sidecar: also write the metadata as ``<artifact>.json`` for reading.
    """
    mode = mode_name(fmt, quantize, qat_epochs)
    if qat_learning_rate is not None and not qat_epochs:
        raise ValueError(f"qat_learning_rate={qat_learning_rate} needs qat_epochs >= 1")
    output = Path(output)
    if quantize.startswith("int8") and (calibration is None or len(calibration) == 0):
        raise ValueError("int8 export needs calibration crops of real persons")
    codec = codec or model_codec(model, weights_path)
    reference = keras_predict(model)(crops.images)
    started = time.perf_counter()
    with atomic_path(output, directory=fmt == "savedmodel") as tmp:
        _write(model, tmp, fmt, quantize, calibration, batch, qat_epochs, qat_learning_rate)
        meta = build_metadata(model, mode, quantize, weights_path, keypoints, model_name, codec)
        if fmt == "tflite":
            meta["runtime"] = choose_tflite_runtime(tmp, crops.images[:1], meta)
        predict = load_predict(tmp, 1, meta)
        try:
            report = verify(reference, predict, crops, codec, mode, str(output), bounds,
                            codec.decode_mode)  # fmt: skip
            failure = None
        except ExportVerificationError as err:
            if not allow_unverified or err.report is None:
                raise
            report, failure = err.report, str(err)
        probe = predict(crops.images[:1])
        meta["verification"] = {**report.as_dict(), "passed": failure is None, "failure": failure}
        meta["export_seconds"] = round(time.perf_counter() - started, 1)
        meta_lib.embed(tmp, fmt, meta)
        _check_published_form(tmp, meta, probe, crops.images[:1])
    if failure is not None:
        print(f"WARNING: wrote UNVERIFIED {output}: {failure}", file=sys.stderr, flush=True)
    side = meta_lib.write_sidecar(output, meta) if sidecar else None
    print(f"export: wrote {output} (metadata embedded{'' if side is None else f', copy in {side}'})",
          flush=True)  # fmt: skip
    return ExportResult(output, report, meta, failure is None, side)


def _check_published_form(path: Path, meta: dict[str, Any], probe: np.ndarray, crop: np.ndarray) -> None:
    """The file about to be published reads back the metadata just written and computes what
    was verified (embedding must not change the graph)."""
    read = meta_lib.read_metadata(path)
    if read.get("verification") != meta_lib.json_round_trip(meta["verification"]):
        raise ExportVerificationError(f"{path}: the embedded metadata does not read back")
    again = load_predict(path, 1, read)(crop)
    if not np.array_equal(again, probe):
        diff = float(np.abs(again - probe).max())
        raise ExportVerificationError(f"{path}: embedding the metadata changed the outputs by {diff}")


def _write(model, tmp: Path, fmt: str, quantize: str, calibration, batch, qat_epochs: int,
           qat_learning_rate: float | None) -> None:  # fmt: skip
    if fmt == "keras":
        converters.write_keras(model, tmp)
    elif fmt == "savedmodel":
        converters.write_savedmodel(model, tmp, batch)
    elif fmt == "onnx":
        converters.write_onnx(model, tmp)
    elif qat_epochs:
        from danet_tf.export.qat import write_qat_tflite

        write_qat_tflite(model, tmp, calibration, qat_epochs, learning_rate=qat_learning_rate)
    else:
        images = None if calibration is None else calibration.images
        converters.write_tflite(model, tmp, quantize, images)


def recorded_codec(weights_path: str | Path | None) -> HeatmapCodec | None:
    """The codec a ``.keras`` file records (training writes its run's codec into
    ``final.keras``), or None when it records none."""
    if weights_path is None or not str(weights_path).endswith(".keras"):
        return None
    from danet_edge.topdown import codec_from_metadata

    try:
        return codec_from_metadata(meta_lib.read_metadata(weights_path))
    except (OSError, ValueError):
        return None


def model_codec(model: Any, weights_path: str | Path | None = None) -> HeatmapCodec:
    """The codec a model was trained with: the one its ``.keras`` file records (training
    writes its run's codec into ``final.keras``/``best.keras``), else the codec's defaults at
    the model's input and heatmap sizes (a model built from the registry)."""
    recorded = recorded_codec(weights_path)
    if recorded is not None:
        h, w = (int(v) for v in model.input_shape[1:3])
        if recorded.input_size != (h, w):
            raise ValueError(
                f"{weights_path} records a {recorded.input_size[0]}x{recorded.input_size[1]} "
                f"codec but the model takes {h}x{w} crops"
            )
        return recorded
    h, w = model.input_shape[1:3]
    hh, hw = model.output_shape[1:3]
    return HeatmapCodec((int(h), int(w)), (int(hh), int(hw)))


def build_metadata(
    model: Any,
    mode: str,
    quantize: str,
    weights_path: str | Path | None,
    keypoints: KeypointInfo | None,
    model_name: str | None,
    codec: HeatmapCodec | None = None,
) -> dict[str, Any]:
    """Everything a runtime needs to pre- and post-process, as plain json values."""
    from danet_tf.models import input_normalization, read_source

    mean, std = input_normalization(model)
    codec = codec or model_codec(model)
    k = int(model.output_shape[-1])
    if keypoints is None:
        keypoints = KeypointInfo.coco() if k == 17 else _generic_keypoints(k)
    if len(keypoints.names) != k:
        raise ValueError(f"{len(keypoints.names)} keypoint names for a model with {k} heatmaps")
    return {
        "schema": meta_lib.SCHEMA,
        "format": mode,
        "source": {
            "model": model_name or model.name,
            "weights": None if weights_path is None else str(weights_path),
            "weights_sha256": meta_lib.sha256_file(weights_path) or _weights_sha256(model),
            "hash_of": "weights file" if weights_path else "weight arrays",
            "converted_from": None if weights_path is None else read_source(weights_path),
        },
        "input": {
            "name": "image",
            "size": list(codec.input_size),
            "layout": "NHWC",
            "dtype": "float32",
            "range": [0, 255],
            "color": "RGB",
            "batch": 1 if mode.startswith("tflite") else None,
            "normalization": {"in_graph": True, "mean": list(mean), "std": list(std)},
        },
        "output": {"name": "heatmaps", "size": list(codec.heatmap_size),
                   "stride": codec.input_size[0] // codec.heatmap_size[0], "dtype": "float32"},
        "keypoints": {
            "names": list(keypoints.names),
            "flip_pairs": [list(p) for p in keypoints.flip_pairs],
            "skeleton": [list(p) for p in keypoints.skeleton],
            "sigmas": None if keypoints.sigmas is None else list(keypoints.sigmas),
        },
        "codec": codec.to_dict(),
        "quantization": {
            "mode": quantize,
            "qat": mode == "tflite-qat",
            "weights": {"none": "float32", "fp16": "float16"}.get(quantize, "int8 per-channel"),
            "activations": "int8" if quantize.startswith("int8") else "float32",
            "float_ops": list(converters.FLOAT_OPS.get(quantize, ())),
            "io": "float32",
        },
        # The export-time graph rewrites the file was converted with (same function).
        "rewrites": _rewrites_record(mode),
    }  # fmt: skip


def _rewrites_record(mode: str) -> dict[str, Any]:
    """The rewrites of export mode ``mode`` (``rewrites.EXPORT_REWRITES`` is keyed by mode)."""
    import dataclasses

    from danet_tf.export import rewrites

    return dataclasses.asdict(rewrites.EXPORT_REWRITES.get(mode, rewrites.NONE))


def choose_tflite_runtime(path: Path, crop: np.ndarray, meta: dict[str, Any]) -> dict[str, Any]:
    """Time the model under both op resolvers and recommend the faster one.

    The plain graph's 9x9 depthwise convolutions made XNNPACK the slower choice on the x86 CPUs
    measured in docs/deployment.md (Op resolver); the rewritten deployment graph makes it the
    faster one (the builtin kernels run its slices slowly). Measuring at export keeps the choice
    honest on other machines and for other graphs. Single-threaded, median of three runs after a
    warm-up.
    """
    from danet_edge.runners import LiteRTModel

    timings = {}
    for xnnpack in (True, False):
        run = LiteRTModel(path, 1, xnnpack, meta)
        run(crop)
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            run(crop)
            samples.append(time.perf_counter() - t0)
        timings[xnnpack] = float(np.median(samples)) * 1e3
    best = min(timings, key=timings.get)
    return {
        "xnnpack": best,
        "op_resolver": "AUTO" if best else "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
        "measured_ms": {"xnnpack": round(timings[True], 2), "builtin": round(timings[False], 2)},
        "why": "faster of the two resolvers, measured at export (1 thread, median of 3)",
    }


def _generic_keypoints(k: int) -> KeypointInfo:
    return KeypointInfo(tuple(f"keypoint_{i}" for i in range(k)), ())


def _weights_sha256(model: Any) -> str:
    import hashlib

    digest = hashlib.sha256()
    for w in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(w)).tobytes())
    return digest.hexdigest()
