"""protocol="authors" end to end on real COCO data: oracle heatmaps, CLI, option checks."""

import contextlib
import importlib.util
import io
import json
import struct

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from danet_tf.codec import HeatmapCodec, authors
from danet_tf.data.coco import load_coco
from danet_tf.evaluation import (
    Person,
    Predictions,
    authors_coco_results,
    coco_keypoint_eval,
    evaluate_topdown,
    persons_from_detections,
    persons_from_samples,
    predict_persons,
)
from tests.evaluation.eval_oracle import OraclePredictor, box_iou, run_eval_cli
from tests.harness import REPO

INPUT, HEATMAP = (256, 192), (64, 48)
# Their finest training target: sigma 1.4 cells (config heat_kernel 1.4 * 4 input pixels).
CODEC = HeatmapCodec(INPUT, HEATMAP, sigma=1.4)
MEAN = (103.53, 116.28, 123.675)  # a converted authors' model's input mean, R, G, B


def _authors_matrix(person: Person) -> np.ndarray:
    return authors.crop_matrix(person.center, person.scale, INPUT)


def _oracle(dataset, persons, targets, **kw) -> OraclePredictor:
    info = dataset.keypoint_info
    return OraclePredictor(
        persons, targets, CODEC, info.flip_pairs, info.num_keypoints,
        crop_matrix=_authors_matrix, **kw,
    )  # fmt: skip


def test_oracle_gt_boxes_through_evaluate_topdown_scores_near_1(coco_sample):
    ann = coco_sample / "val4.json"
    ds = load_coco(ann)
    # evaluate_topdown builds the same persons and runs them sorted by image (stable).
    persons = persons_from_samples(ds.samples, 0.75, region=authors.box_to_region)
    order = sorted(range(len(persons)), key=lambda i: persons[i].image_path)
    persons = [persons[i] for i in order]
    oracle = _oracle(ds, persons, [ds.samples[i].keypoints for i in order], keep_batches=True)
    report = evaluate_topdown(
        oracle, ann, codec=HeatmapCodec.for_input(INPUT), num_keypoints=17, protocol="authors", crop_border=MEAN,
        batch_size=5, progress=False,
    )  # fmt: skip
    assert oracle.cursor == len(persons) == report.num_persons == len(report.results) == 12
    assert report.metrics["AP"] >= 0.95, report.table
    # Every keypoint confidence is 1; person score = mean(heatmap / 1 + 1) x box score 1.
    kps = np.array([r["keypoints"] for r in report.results]).reshape(-1, 17, 3)
    assert np.all(kps[..., 2] == 1.0)
    assert all(1.0 <= r["score"] <= 2.0 for r in report.results)
    # Regions leaving the image are filled with the mean colour, exactly.
    crops = np.concatenate(oracle.batches)
    assert np.any(np.all(crops == np.float32(MEAN), axis=-1))


def test_oracle_with_detections_keeps_every_box(coco_sample):
    ann = coco_sample / "val4.json"
    ds = load_coco(ann)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
    persons, counts = persons_from_detections(
        coco_sample / "val4_person_dets.json", gt, coco_sample / "images", 0.75,
        region=authors.box_to_region,
    )  # fmt: skip
    assert counts.kept == len(persons) == 118
    targets = []
    for p in persons:
        # The extended region is the box grown by 10 % and then to 3:4; the box's own
        # overlap with each annotation is checked on the region, which is good enough.
        box = [*(p.center - p.scale / 2), *p.scale]
        cands = [s for s in ds.samples if s.image_id == p.image_id]
        best = max(cands, key=lambda s: box_iou(box, s.bbox), default=None)
        ok = best is not None and box_iou(box, best.bbox) > 0.3
        targets.append(best.keypoints if ok else None)
    oracle = _oracle(ds, persons, targets)
    pred = predict_persons(
        persons, oracle, CODEC, num_keypoints=17, flip_pairs=ds.keypoint_info.flip_pairs,
        batch_size=16, progress=False, protocol="authors", crop_border=MEAN,
    )  # fmt: skip
    results = authors_coco_results(pred)
    assert len(results) == 118  # no OKS-NMS: one result per detection
    box_scores = np.array([p.box_score for p in pred.persons])
    mean_kp = pred.keypoints[..., 2].mean(axis=1)
    np.testing.assert_allclose([r["score"] for r in results], mean_kp * box_scores, rtol=1e-6)
    # An empty crop keeps its box score (heatmap 0 scores 0 / 1 + 1 = 1), unlike our rescoring.
    empty = [i for i, t in enumerate(targets) if t is None]
    assert empty and np.allclose(mean_kp[empty], 1.0)
    ap = coco_keypoint_eval(ann, results)[0]["AP"]
    assert ap >= 0.85, ap


def test_authors_results_score_without_threshold():
    persons = [
        Person("a.jpg", 7, np.zeros(2), np.ones(2), 0.5),
        Person("a.jpg", 7, np.zeros(2), np.ones(2), 1.0),
    ]
    kps = np.zeros((2, 3, 3), np.float32)
    kps[..., 2] = [[0.1, 1.9, 1.0], [0.05, 0.05, 0.05]]  # below our 0.2 rescoring threshold
    results = authors_coco_results(Predictions(persons, kps))
    np.testing.assert_allclose([r["score"] for r in results], [0.5, 0.05], rtol=1e-6)
    assert all(r["keypoints"][2::3] == [1.0] * 3 and r["image_id"] == 7 for r in results)


def _jpeg_with_orientation(image: np.ndarray, orientation: int) -> bytes:
    """A JPEG with an EXIF APP1 segment holding only the orientation tag."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    data = buf.tobytes()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]


def test_authors_read_images_as_cv2_imread_does(tmp_path):
    # Stored 32 x 64 (h x w), left quarter white, EXIF orientation 6 (shown rotated 90
    # degrees clockwise: 64 x 32 with the white quarter on top). cv2.imread applies it.
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :16] = 255
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_jpeg_with_orientation(stored, 6))
    codec = HeatmapCodec((64, 64), (16, 16))
    crops = {}
    for protocol, region in (("authors", (32, 64)), ("danet_tf", (64, 32))):
        center = np.array(region, np.float64) / 2 - (0.5 if protocol == "danet_tf" else 0.0)
        person = Person(str(path), 1, center, np.array([64.0, 64.0]))
        seen = []

        def record(batch, seen=seen):
            seen.append(batch)
            return np.zeros((len(batch), 16, 16, 1), np.float32)

        predict_persons(
            [person], record, codec, num_keypoints=1, flip=False, progress=False,
            protocol=protocol, **({"crop_border": 0.0} if protocol == "authors" else {}),
        )  # fmt: skip
        crops[protocol] = seen[0][0, ..., 0]
    # authors: the image fills columns 16-47; its top quarter (rows 0-15) is white.
    a = crops["authors"]
    assert a[2:14, 20:44].mean() > 240 and a[20:60, 20:44].mean() < 15
    # danet_tf (stored pixels): rows 16-47 hold the image, its left quarter white.
    d = crops["danet_tf"]
    assert d[20:44, 2:14].mean() > 240 and d[20:44, 20:60].mean() < 15


def test_authors_protocol_options_are_checked(coco_sample):
    def run(**kw):
        return evaluate_topdown(
            lambda b: np.zeros((len(b), 64, 48, 17), np.float32), coco_sample / "val4.json",
            codec=HeatmapCodec.for_input((256, 192)), num_keypoints=17, progress=False, **kw,
        )  # fmt: skip

    with pytest.raises(ValueError, match="unknown protocol 'hrnet'; known: danet_tf, authors"):
        run(protocol="hrnet")
    with pytest.raises(ValueError, match="needs crop_border"):
        run(protocol="authors")
    with pytest.raises(ValueError, match="leave decode unset, got 'dark'"):
        run(protocol="authors", crop_border=MEAN, decode="dark")
    with pytest.raises(ValueError, match="leave nms_threshold unset, got 0.5"):
        run(protocol="authors", crop_border=MEAN, nms_threshold=0.5)
    with pytest.raises(ValueError, match="leave rescore_threshold unset, got 0.0"):
        run(protocol="authors", crop_border=MEAN, rescore_threshold=0.0)
    with pytest.raises(ValueError, match=r"heat_range \(255\) belong to protocol 'authors'"):
        run(heat_range=255)
    with pytest.raises(ValueError, match="heat_range must be a finite number > 0, got -1"):
        run(protocol="authors", crop_border=MEAN, heat_range=-1)
    # All-zero heatmaps decode to cell (0, 0) with score 1 under the authors' rule.
    report = run(protocol="authors", crop_border=MEAN)
    assert report.num_persons == 12 and all(r["score"] == 1.0 for r in report.results)


def _loadrun_eval_cli():
    spec = importlib.util.spec_from_file_location("eval_cli", REPO / "tools" / "eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_options_belong_to_their_protocol(capsys):
    cli = _loadrun_eval_cli()
    base = ["--model", "danet_tiny", "--ann", "a.json"]
    assert cli.parse_args(base).protocol == "danet_tf"
    args = cli.parse_args([*base, "--protocol", "authors", "--heat-range", "255"])
    assert args.heat_range == 255 and args.decode is None
    for extra, message in (
        (["--protocol", "authors", "--decode", "dark"], "drop --decode/--nms-thr"),
        (["--protocol", "authors", "--nms-thr", "0.5"], "drop --decode/--nms-thr"),
        (["--heat-range", "255"], "--heat-range belongs to --protocol authors"),
    ):
        with pytest.raises(SystemExit):
            cli.parse_args([*base, *extra])
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_cli_protocol_authors_on_gt_box_detections(coco_sample, tmp_path):
    ann = json.loads((coco_sample / "val4.json").read_text())
    dets = [
        {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
        for a in ann["annotations"]
        if not a["iscrowd"]
    ]
    dets_file = tmp_path / "gt_dets.json"
    dets_file.write_text(json.dumps(dets))
    out = tmp_path / "results.json"
    common = ("--model", "danet_tiny", "--ann", str(coco_sample / "val4.json"),
              "--images", str(coco_sample / "images"), "--dets", str(dets_file))  # fmt: skip
    proc = run_eval_cli(*common, "--protocol", "authors", "--batch-size", "8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "protocol=authors" in proc.stdout and "Average Precision" in proc.stdout
    assert f"persons evaluated: {len(dets)}" in proc.stdout
    results = json.loads(out.read_text())
    assert len(results) == len(dets)  # no OKS-NMS, no rescoring threshold
    assert all(np.isfinite(r["score"]) and r["keypoints"][2::3] == [1] * 17 for r in results)
