"""The top-down pipeline against a perfect oracle, on the real annotation files."""

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from danet_tf.codec import HeatmapCodec
from danet_tf.data.coco import load_coco, load_lsp
from danet_tf.data.mpii import load_mpii
from danet_tf.evaluation import (
    coco_keypoint_eval,
    lsp_pck,
    mpii_pckh,
    persons_from_detections,
    persons_from_samples,
    predict_persons,
    predictions_to_coco_results,
)
from tests.evaluation.eval_oracle import OraclePredictor, box_iou

CODEC = HeatmapCodec((128, 96), (32, 24))


def _run_oracle(dataset, persons, targets, flip=True, decode="dark", batch_size=8):
    info = dataset.keypoint_info
    oracle = OraclePredictor(persons, targets, CODEC, info.flip_pairs, info.num_keypoints, flip)
    pred = predict_persons(
        persons, oracle, CODEC, num_keypoints=info.num_keypoints, flip_pairs=info.flip_pairs,
        flip=flip, decode=decode, batch_size=batch_size, progress=False,
    )  # fmt: skip
    assert oracle.cursor == len(persons)
    return pred


@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("decode", ["shift", "dark"])
def test_oracle_with_gt_boxes_scores_near_1(coco_sample, flip, decode):
    ds = load_coco(coco_sample / "val4.json")
    persons = persons_from_samples(ds.samples, 96 / 128, 1.25)
    pred = _run_oracle(ds, persons, [s.keypoints for s in ds.samples], flip, decode)
    assert len(pred.persons) == len(ds.samples) and not pred.skipped_images
    results = predictions_to_coco_results(pred, ds.keypoint_info.sigmas)
    stats, _ = coco_keypoint_eval(coco_sample / "val4.json", results)
    assert stats["AP"] >= 0.97, stats


def test_oracle_with_detections_needs_oks_nms(coco_sample):
    ann = coco_sample / "val4.json"
    ds = load_coco(ann)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
    persons, counts = persons_from_detections(
        coco_sample / "val4_person_dets.json", gt, coco_sample / "images", 96 / 128, padding=1.25
    )
    assert counts.kept == len(persons) == 118
    # Each detection gets the pose of the best-overlapping annotated person (if any).
    targets = []
    for p in persons:
        box = [
            p.center[0] - p.scale[0] / 2.5,
            p.center[1] - p.scale[1] / 2.5,
            p.scale[0] / 1.25,
            p.scale[1] / 1.25,
        ]
        cands = [s for s in ds.samples if s.image_id == p.image_id]
        best = max(cands, key=lambda s: box_iou(box, s.bbox), default=None)
        ok = best is not None and box_iou(box, best.bbox) > 0.3
        targets.append(best.keypoints if ok else None)
    pred = _run_oracle(ds, persons, targets)
    with_nms = predictions_to_coco_results(pred, ds.keypoint_info.sigmas, nms_threshold=0.9)
    without = predictions_to_coco_results(pred, ds.keypoint_info.sigmas, nms_threshold=None)
    assert len(with_nms) < len(without) == 118
    ap_nms = coco_keypoint_eval(ann, with_nms)[0]["AP"]
    ap_raw = coco_keypoint_eval(ann, without)[0]["AP"]
    # Duplicates rank below the true poses here, so they barely move AP; NMS removes them.
    assert ap_nms >= 0.97 and ap_nms >= ap_raw, (ap_nms, ap_raw)
    matched = {id(t) for t in targets if t is not None}
    posed = [r for r in with_nms if r["score"] > 0]
    assert len(matched) <= len(posed) < len(matched) + 10, (len(matched), len(posed))
    # Rescoring sends empty crops (no pose) to the bottom: score 0.
    empty = [r for r, t in zip(without, targets, strict=True) if t is None]
    assert all(r["score"] == 0.0 for r in empty)


def test_oracle_mpii_pckh_is_1(mpii_sample):
    ds = load_mpii(mpii_sample / "test_mpii.json")
    pred = _run_oracle(
        ds, persons_from_samples(ds.samples, 0.75, 1.25), [s.keypoints for s in ds.samples]
    )
    gt = np.stack([s.keypoints for s in ds.samples])
    assert mpii_pckh(pred.keypoints[..., :2], gt, ds.keypoint_info.names).mean == 1.0


def test_oracle_lsp_pck_is_1(lspet, tmp_path):
    data = json.loads((lspet / "train_lsp14.json").read_text())
    data["images"], data["annotations"] = data["images"][:40], data["annotations"][:40]
    ann = tmp_path / "lsp40.json"
    ann.write_text(json.dumps(data))
    ds = load_lsp(ann, lspet / "images")
    pred = _run_oracle(
        ds, persons_from_samples(ds.samples, 0.75, 1.25), [s.keypoints for s in ds.samples]
    )
    gt = np.stack([s.keypoints for s in ds.samples])
    assert lsp_pck(pred.keypoints[..., :2], gt, ds.keypoint_info.names).mean == 1.0
