"""Top-down evaluation: annotations (+ detections) -> predictions -> COCO AP / PCKh / PCK."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# declared TensorFlow-free in the edge distribution, for --help (re-exported: danet_tf.evaluation.METRICS)
from danet_edge.choices import DEFAULT_NMS_THRESHOLD, DEFAULT_RESCORE_THRESHOLD, METRICS
from danet_edge.protocol import Authors, Ours, make_protocol
from danet_tf.codec import DECODE_MODES, HeatmapCodec
from danet_tf.evaluation.coco_eval import write_coco_results
from danet_tf.evaluation.detections import Detector, persons_to_evaluate
from danet_tf.evaluation.inference import PredictFn, Predictions, predict_persons
from danet_tf.evaluation.nms import check_unit_interval
from danet_tf.evaluation.persons import DetectionCounts
from danet_tf.evaluation.results import score_predictions


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


def _load_annotations(ann_file: Path, image_dir: Path | None, metric: str, num_keypoints: int):
    """The annotations (COCO json or MPII HRNet json) and the metric (``auto`` resolved),
    checked against the metric and the model's ``num_keypoints``."""
    from danet_tf.data.coco import load_coco
    from danet_tf.data.mpii import load_mpii

    if not ann_file.is_file():
        raise FileNotFoundError(f"annotation file {str(ann_file)!r} does not exist")

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
    if dataset.num_keypoints != num_keypoints:
        raise ValueError(
            f"{ann_file} has {dataset.num_keypoints} keypoints per person but the model "
            f"outputs {num_keypoints} heatmaps"
        )
    return dataset, metric


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
    metric: str,
    codec: HeatmapCodec,
    nms_threshold: float | None,
    rescore_threshold: float,
    det_score_threshold: float,
    batch_size: int,
    heat_range: float | None,
) -> None:
    """Every option evaluation takes, checked before any work (names the option)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if not isinstance(codec, HeatmapCodec):
        raise TypeError(f"codec must be a HeatmapCodec, got {type(codec).__name__}")
    input_size = codec.input_size
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
    detector: Detector | None = None,
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
    _check_options(metric, codec, nms_threshold, rescore_threshold, det_score_threshold,
                   batch_size, heat_range)
    flip = codec.flip_test if flip is None else flip
    proto = _choose_protocol(protocol, decode, nms_threshold, rescore_threshold, crop_border,
                             heat_range, codec.replace(flip_test=bool(flip)))  # fmt: skip
    codec = proto.codec
    ann_file = Path(ann_file)
    image_dir = Path(image_dir) if image_dir is not None else None
    dataset, metric = _load_annotations(ann_file, image_dir, metric, num_keypoints)
    persons, det_counts = persons_to_evaluate(
        dataset, metric, ann_file, image_dir, lambda box, aspect: proto.region(box),
        codec.input_size[1] / codec.input_size[0], dets_file=dets_file, detector=detector,
        det_score_threshold=det_score_threshold, out=out)  # fmt: skip
    pred = predict_persons(
        persons, predict_fn, codec, num_keypoints=num_keypoints,
        flip_pairs=dataset.keypoint_info.flip_pairs, batch_size=batch_size, progress=progress,
        protocol=proto,
    )  # fmt: skip
    _check_predictions(pred, len(persons))
    metrics, table, results = score_predictions(pred, dataset, metric, ann_file, proto,
                                                nms_threshold, rescore_threshold)
    if out is not None:
        write_coco_results(out, results)
    return EvalReport(
        metric, metrics, table, results, len(pred.persons), pred.skipped_images,
        pred.skipped_persons, det_counts, pred.seconds, dataset.counts,
    )  # fmt: skip
