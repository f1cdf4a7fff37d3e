"""Top-down evaluation: annotations (+ detections) -> predictions -> COCO AP / PCKh / PCK."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# declared TensorFlow-free in the edge distribution, for --help (re-exported: danet_tf.evaluation.METRICS)
from danet_edge.choices import DEFAULT_NMS_THRESHOLD, DEFAULT_RESCORE_THRESHOLD, METRICS
from danet_edge.protocol import Authors, Ours, make_protocol
from danet_tf.codec import DECODE_MODES, HeatmapCodec, authors
from danet_tf.evaluation.coco_eval import (
    coco_keypoint_eval,
    load_coco_gt,
    make_result,
    write_coco_results,
)
from danet_tf.evaluation.inference import PredictFn, Predictions, predict_persons
from danet_tf.evaluation.nms import check_unit_interval, oks_nms, rescore
from danet_tf.evaluation.pck import lsp_pck, mpii_pckh
from danet_tf.evaluation.persons import (
    DetectionCounts,
    persons_from_detections,
    persons_from_samples,
)


class NothingEvaluated(ValueError):
    """No person could be evaluated (every image missing or unreadable, ...): the run
    must fail rather than report an AP of 0. Nothing is written."""


@dataclass
class EvalReport:
    """Metrics, the printable table, the results entries and what was skipped.

    ``dataset_counts`` are the annotation reader's (`danet_tf.data.FilterCounts`),
    ``detections`` the detection file's, ``skipped_images`` maps each image that could not
    be read to why (``image_skips`` counts them by reason).
    """

    metric: str
    metrics: dict[str, float]
    table: str
    results: list[dict]
    num_persons: int
    skipped_images: dict[str, str] = field(default_factory=dict)
    skipped_persons: int = 0
    detections: DetectionCounts | None = None
    seconds: float = 0.0
    dataset_counts: object | None = None

    @property
    def ms_per_person(self) -> float:
        return 1e3 * self.seconds / max(self.num_persons, 1)

    @property
    def image_skips(self) -> dict[str, int]:
        """Unreadable images by reason, most frequent first."""
        return dict(Counter(self.skipped_images.values()).most_common())

    def summary(self) -> str:
        lines = [
            f"persons evaluated: {self.num_persons} in {self.seconds:.1f} s "
            f"({self.ms_per_person:.1f} ms/person), results: {len(self.results)}"
        ]
        if self.dataset_counts is not None:
            lines.append(f"annotations: {self.dataset_counts.summary()}")
        if self.detections is not None:
            lines.append(self.detections.summary())
        lines.extend(skipped_images_lines(self.skipped_images, self.skipped_persons))
        return "\n".join(lines) + "\n" + self.table


def skipped_images_lines(skipped: dict[str, str], persons: int) -> list[str]:
    """``["skipped 2 unreadable images (3 persons): missing file 1, ...", "  e.g. ..."]``."""
    if not skipped:
        return []
    reasons = ", ".join(f"{r} {n}" for r, n in Counter(skipped.values()).most_common())
    lines = [f"skipped {len(skipped)} unreadable images ({persons} persons): {reasons}"]
    lines += [f"  {p}: {w}" for p, w in list(skipped.items())[:5]]
    if len(skipped) > 5:
        lines.append(f"  ... and {len(skipped) - 5} more")
    return lines


@dataclass
class EvalModel:
    """What evaluation needs of a model: the crops -> heatmaps function and the codec it was
    trained with (read from the model file: crop size and padding, decoding, flip test).

    ``input_mean`` is the model's input mean (R, G, B), the authors' protocol's crop border.
    """

    predict_fn: PredictFn
    codec: HeatmapCodec
    num_keypoints: int
    input_mean: Sequence[float] | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        return self.codec.input_size

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.codec.heatmap_size


def load_eval_model(
    name: str | None,
    weights: str | Path | None,
    *,
    input_size: tuple[int, int] | None = None,
    num_keypoints: int = 17,
) -> EvalModel:
    """The one place evaluation loads a model: a ``.keras`` file (``weights``), an exported
    artifact (``.tflite`` of any quantisation, ``.onnx``, a SavedModel directory: the file a
    user ships, run by the same runners as on the device) or a registered model built with
    random weights (``name``). ``input_size`` (h, w) must match a model with a fixed input;
    it sizes a built one (default: the model's). The codec is the one the file records (a
    training run's ``.keras`` and every export carry theirs), else the codec's defaults."""
    from danet_tf.evaluation.inference import keras_predict_fn
    from danet_tf.evaluation.model_io import load_pose_model, model_io_shapes
    from danet_tf.export.api import recorded_codec
    from danet_tf.models import input_normalization
    from danet_tf.models.loading import is_model_file

    artifact = next((str(v) for v in (weights, name) if v is not None and _is_artifact(v)), None)
    if artifact is not None:
        return _artifact_eval_model(artifact, input_size, num_keypoints)
    model = load_pose_model(name, weights, input_size=input_size, num_keypoints=num_keypoints)
    in_size, heatmap_size, k = model_io_shapes(model, input_size)
    try:
        mean = input_normalization(model)[0]
    except ValueError:  # not a danet_tf model: no known input mean
        mean = None
    source = weights if weights is not None else (name if name and is_model_file(name) else None)
    codec = recorded_codec(source) or HeatmapCodec(in_size, heatmap_size)
    if codec.input_size != tuple(in_size):
        raise ValueError(f"{source} records a {codec.input_size[0]}x{codec.input_size[1]} codec "
                         f"but the model takes {in_size[0]}x{in_size[1]} crops")  # fmt: skip
    return EvalModel(keras_predict_fn(model), codec, k, mean)


def _run_detector(detector, ann_file: Path, image_dir: Path | None, out: str | Path | None) -> Path:
    """COCO person detections of ``detector`` on every image of ``ann_file``, as a file;
    unreadable images are left out (the pose pass counts them)."""
    import json
    import tempfile

    from danet_edge.images import read_image
    from danet_tf.data.coco import default_image_dir

    gt = load_coco_gt(ann_file)
    root = Path(image_dir) if image_dir is not None else default_image_dir(ann_file)
    category = int(gt.getCatIds()[0])
    dets = []
    for image_id, info in sorted(gt.imgs.items()):
        image, _ = read_image(root / info["file_name"])
        if image is None:
            continue
        for box, score in zip(*detector(image), strict=True):
            dets.append({"image_id": image_id, "category_id": category,
                         "bbox": [round(float(v), 2) for v in box], "score": round(float(score), 5)})  # fmt: skip
    if out is not None:
        path = Path(str(out) + ".dets.json")
    else:
        path = Path(tempfile.mkdtemp(prefix="danet_dets_")) / "dets.json"
    path.write_text(json.dumps(dets))
    return path


def _is_artifact(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() in (".tflite", ".onnx") or (path / "saved_model.pb").is_file()


def _artifact_eval_model(
    path: str, input_size: tuple[int, int] | None, num_keypoints: int
) -> EvalModel:
    from danet_edge.topdown import codec_from_metadata, warn_if_unverified
    from danet_tf.export.metadata import read_metadata
    from danet_tf.export.runners import load_predict

    meta = read_metadata(path)
    warn_if_unverified(meta, path)
    codec = codec_from_metadata(meta)
    in_size = codec.input_size
    if input_size is not None and tuple(input_size) != in_size:
        raise ValueError(f"{path} has input size {in_size[0]}x{in_size[1]}, not the requested "
                         f"{input_size[0]}x{input_size[1]}")  # fmt: skip
    k = len(meta["keypoints"]["names"])  # num_keypoints sizes built models only
    mean = (meta["input"].get("normalization") or {}).get("mean")
    return EvalModel(load_predict(path, 1, meta), codec, k, mean)


def _load_annotations(ann_file: Path, image_dir: Path | None, metric: str):
    from danet_tf.data.coco import load_coco
    from danet_tf.data.mpii import load_mpii

    with open(ann_file) as f:
        is_mpii = f.read(64).lstrip().startswith("[")
    dataset = load_mpii(ann_file, image_dir) if is_mpii else load_coco(ann_file, image_dir)
    if metric == "auto":
        if is_mpii:
            metric = "pckh"
        else:
            metric = "coco" if dataset.keypoint_info.sigmas is not None else "pck"
    if metric == "pckh" and dataset.num_keypoints != 16:
        raise ValueError(f"PCKh needs the 16 MPII joints; {ann_file} has {dataset.num_keypoints}")
    if metric == "coco" and (is_mpii or dataset.keypoint_info.sigmas is None):
        raise ValueError(f"COCO AP needs a COCO json with OKS sigmas; {ann_file} has none")
    return dataset, metric


def predictions_to_coco_results(
    pred: Predictions,
    sigmas: Sequence[float],
    nms_threshold: float | None = DEFAULT_NMS_THRESHOLD,
    rescore_threshold: float = DEFAULT_RESCORE_THRESHOLD,
) -> list[dict]:
    """COCO results from predictions: rescoring, then OKS-NMS per image (None: no NMS)."""
    scores = rescore([p.box_score for p in pred.persons], pred.keypoints[..., 2], rescore_threshold)
    by_image: dict[int, list[int]] = {}
    for i, p in enumerate(pred.persons):
        by_image.setdefault(p.image_id, []).append(i)
    results = []
    for image_id, members in by_image.items():
        idx = np.asarray(members)
        if nms_threshold is not None:
            areas = np.asarray([pred.persons[i].area for i in idx])
            keep = oks_nms(
                pred.keypoints[idx], scores[idx], areas, nms_threshold, np.asarray(sigmas)
            )
            idx = idx[keep]
        results.extend(make_result(image_id, pred.keypoints[i], scores[i]) for i in idx)
    return results


def authors_coco_results(pred: Predictions) -> list[dict]:
    """COCO results as the authors' test code writes them: one per person, score = mean
    keypoint score x box score, every keypoint's confidence 1; no rescoring threshold and
    no OKS-NMS. ``pred`` must come from ``predict_persons(..., protocol="authors")``."""
    scores = authors.person_scores(pred.keypoints[..., 2], [p.box_score for p in pred.persons])
    results = []
    for person, kp, score in zip(pred.persons, pred.keypoints, scores, strict=True):
        kp = kp.copy()
        kp[:, 2] = 1.0
        results.append(make_result(person.image_id, kp, float(score)))
    return results


def _choose_protocol(
    protocol: str,
    decode: str | None,
    nms_threshold: float | None,
    rescore_threshold: float,
    crop_border: float | Sequence[float] | None,
    heat_range: float | None,
    codec: HeatmapCodec,
) -> Ours:
    """The protocol object (:mod:`danet_edge.protocol`) around ``codec``, after checking that
    each option belongs to it."""
    if protocol == Ours.name:
        decode = codec.decode_mode if decode is None else decode
        if decode not in DECODE_MODES:
            raise ValueError(f"unknown decode mode {decode!r}; known: {', '.join(DECODE_MODES)}")
        return make_protocol(protocol, codec.replace(decode_mode=decode),
                             crop_border=crop_border, heat_range=heat_range)  # fmt: skip
    if protocol == Authors.name:
        fixed = {
            "decode": (decode, (None,)),
            "nms_threshold": (nms_threshold, (None, DEFAULT_NMS_THRESHOLD)),
            "rescore_threshold": (rescore_threshold, (DEFAULT_RESCORE_THRESHOLD,)),
        }
        for name, (value, allowed) in fixed.items():
            if value not in allowed:
                raise ValueError(
                    f"protocol 'authors' fixes decoding and scoring (its own decode, no "
                    f"rescoring threshold, no OKS-NMS): leave {name} unset, got {value!r}"
                )
        if crop_border is None:
            raise ValueError(
                "protocol 'authors' needs crop_border, the model's input mean (R, G, B): "
                "danet_tf.models.input_normalization(model)[0]"
            )
    return make_protocol(protocol, codec, crop_border=crop_border, heat_range=heat_range)


def _check_options(
    nms_threshold: float | None,
    rescore_threshold: float,
    det_score_threshold: float,
    batch_size: int,
    heat_range: float | None,
    input_size: tuple[int, int],
) -> None:
    """Every number evaluation takes, checked before any work (names the option)."""
    if nms_threshold is not None:
        check_unit_interval("nms_threshold", nms_threshold)
    check_unit_interval("rescore_threshold", rescore_threshold)
    check_unit_interval("det_score_threshold", det_score_threshold)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if heat_range is not None and (
        isinstance(heat_range, bool) or not math.isfinite(float(heat_range)) or heat_range <= 0
    ):
        raise ValueError(f"heat_range must be a finite number > 0, got {heat_range!r}")
    if len(input_size) != 2 or not all(
        isinstance(v, int | np.integer) and v > 0 for v in input_size
    ):
        raise ValueError(f"input_size must be (height, width) in pixels, got {input_size!r}")


def _check_predictions(pred: Predictions, total: int) -> None:
    """Fail when nothing ran, or when the model produced NaN/inf (nothing is written)."""
    if not pred.persons:
        lines = skipped_images_lines(pred.skipped_images, pred.skipped_persons)
        raise NothingEvaluated(
            f"nothing could be evaluated: none of the {total} persons ran"
            + (": " + "; ".join(line.strip() for line in lines) if lines else "")
            + "; no results written"
        )
    bad = ~np.isfinite(pred.keypoints).all(axis=(1, 2))
    if bad.any():
        first = pred.persons[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"the model's heatmaps decode to NaN/inf keypoints for {int(bad.sum())} of "
            f"{len(bad)} persons (first in {first.image_path}); no results written"
        )


def evaluate_topdown(
    predict_fn: PredictFn,
    ann_file: str | Path,
    image_dir: str | Path | None = None,
    *,
    codec: HeatmapCodec,
    num_keypoints: int,
    dets_file: str | Path | None = None,
    detector: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    det_score_threshold: float = 0.0,
    flip: bool | None = None,
    decode: str | None = None,
    metric: str = "auto",
    batch_size: int = 32,
    nms_threshold: float | None = DEFAULT_NMS_THRESHOLD,
    rescore_threshold: float = DEFAULT_RESCORE_THRESHOLD,
    out: str | Path | None = None,
    progress: bool = True,
    protocol: str = "danet_tf",
    crop_border: float | Sequence[float] | None = None,
    heat_range: float | None = None,
) -> EvalReport:
    """Evaluate a heatmap model top-down on a COCO-format or MPII (HRNet json) annotation file.

    Args:
        predict_fn: float32 RGB 0-255 crops (B, H, W, 3) -> heatmaps (B, h, w, K).
        ann_file, image_dir: annotations and their image folder (default: beside the file).
        codec: the model's codec (``EvalModel.codec``: read from the model file): crop and
            heatmap size, the box padding of the crop region, decoding and flip test.
        num_keypoints: K of the model; must equal the annotation file's.
        dets_file: COCO detection results to crop instead of the ground-truth boxes.
        detector: a person detector (``danet_edge.detector.PersonDetector``) run on every
            image instead of ``dets_file``; its boxes are written beside ``out`` as
            ``<out>.dets.json`` (COCO results) when ``out`` is given.
        det_score_threshold: detections scoring below this are dropped.
        flip, decode: flip test on/off and the decode mode; None: the codec's.
        metric: ``coco`` (OKS AP), ``pckh`` (MPII), ``pck`` (LSP, torso) or ``auto``.
        nms_threshold: OKS-NMS threshold for ``coco`` (None: no NMS).
        rescore_threshold: keypoint scores above it enter the person score.
        out: write the results json here.
        protocol: ``danet_tf`` (this project's, the default) or ``authors``: the DANet
            authors' test code (``danet_tf.codec.authors``; docs/evaluation.md), for
            reproducing their published numbers. It fixes region, crop, decoding and
            scoring, so ``decode``, ``nms_threshold`` and ``rescore_threshold`` must be left
            unset; it needs ``crop_border``.
        crop_border: ``authors`` only: the crop's border colour, the model's input mean
            (R, G, B), as ``danet_tf.models.input_normalization(model)[0]`` returns it.
        heat_range: ``authors`` only: the training targets' peak (their config: 1); the
            keypoint score is ``heatmap / heat_range + 1``.

    Every threshold must be a finite number in [0, 1] and ``heat_range`` finite and > 0
    (ValueError naming the option). Persons of unreadable images are skipped and counted
    (``report.skipped_images``); detections outside their image, the reader's filtered
    persons likewise (``report.detections``, ``report.dataset_counts``).

    Raises:
        NothingEvaluated: no person could be evaluated (e.g. every image missing).
        ValueError: bad options, malformed files, a model whose output decodes to NaN/inf.
            Nothing is written to ``out`` in any of these cases.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if not isinstance(codec, HeatmapCodec):
        raise TypeError(f"codec must be a HeatmapCodec, got {type(codec).__name__}")
    _check_options(
        nms_threshold, rescore_threshold, det_score_threshold, batch_size, heat_range,
        codec.input_size,
    )  # fmt: skip
    flip = codec.flip_test if flip is None else flip
    proto = _choose_protocol(protocol, decode, nms_threshold, rescore_threshold, crop_border,
                             heat_range, codec.replace(flip_test=bool(flip)))  # fmt: skip
    codec = proto.codec

    def region(box, aspect):
        return proto.region(box)

    ann_file = Path(ann_file)
    if not ann_file.is_file():
        raise FileNotFoundError(f"annotation file {str(ann_file)!r} does not exist")
    image_dir = Path(image_dir) if image_dir is not None else None
    dataset, metric = _load_annotations(ann_file, image_dir, metric)
    info = dataset.keypoint_info
    if dataset.num_keypoints != num_keypoints:
        raise ValueError(
            f"{ann_file} has {dataset.num_keypoints} keypoints per person but the model "
            f"outputs {num_keypoints} heatmaps"
        )
    aspect = codec.input_size[1] / codec.input_size[0]
    det_counts = None
    if detector is not None:
        if dets_file is not None:
            raise ValueError("give detections (dets_file) or a detector, not both")
        dets_file = _run_detector(detector, ann_file, image_dir, out)
    if dets_file is not None:
        from danet_tf.data.coco import default_image_dir

        if metric != "coco":
            raise ValueError(
                f"{metric} scores one prediction per ground-truth person: drop the detections"
            )
        gt = load_coco_gt(ann_file)
        root = image_dir if image_dir is not None else default_image_dir(ann_file)
        persons, det_counts = persons_from_detections(
            dets_file, gt, root, aspect, score_threshold=det_score_threshold,
            category_id=int(gt.getCatIds()[0]), region=region,
        )  # fmt: skip
    else:
        persons = persons_from_samples(dataset.samples, aspect, region=region)
    persons = sorted(persons, key=lambda p: p.image_path)  # each image is read once
    pred = predict_persons(
        persons, predict_fn, codec, num_keypoints=num_keypoints, flip_pairs=info.flip_pairs,
        batch_size=batch_size, progress=progress, protocol=proto,
    )  # fmt: skip
    _check_predictions(pred, len(persons))
    if metric == "coco":
        # The person score and NMS of the results are the protocol's, chosen once here.
        shape = {
            Ours.name: lambda p: predictions_to_coco_results(
                p, info.sigmas, nms_threshold, rescore_threshold),
            Authors.name: authors_coco_results,
        }[proto.name]
        results = shape(pred)
        metrics, table = coco_keypoint_eval(ann_file, results, sigmas=info.sigmas)
    else:
        gt_idx = [p.gt_index for p in pred.persons]
        gt_kpts = (
            np.stack([dataset.samples[i].keypoints for i in gt_idx])
            if gt_idx
            else np.zeros((0, num_keypoints, 3))
        )
        scorer = mpii_pckh if metric == "pckh" else lsp_pck
        res = scorer(pred.keypoints[..., :2], gt_kpts, info.names)
        metrics, table = res.as_dict(), res.table()
        results = [
            {"image_id": p.image_id, "annotation_id": int(dataset.samples[p.gt_index].annotation_id),
             "keypoints": [round(float(v), 3) for v in kp.reshape(-1)]}
            for p, kp in zip(pred.persons, pred.keypoints, strict=True)
        ]  # fmt: skip
    if out is not None:
        write_coco_results(out, results)
    return EvalReport(
        metric, metrics, table, results, len(pred.persons), pred.skipped_images,
        pred.skipped_persons, det_counts, pred.seconds, dataset.counts,
    )  # fmt: skip
