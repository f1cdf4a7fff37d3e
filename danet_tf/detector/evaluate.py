"""Measurements of the person detector: COCO person-box AP, recall/precision, LSPET recall, speed.

- :func:`coco_person_boxes`: pycocotools ``bbox`` evaluation restricted to the person
  category (AP, AP50) of a detector run at a low score threshold, plus recall and precision
  at IoU 0.5 of the boxes scoring above the operating threshold (COCO's matching: crowd
  regions and ignored ground truth neither count as misses nor make false positives).
- :func:`lspet_recall`: LSPET labels one person per image (others in the picture are not
  labelled), so only recall is meaningful; the ground-truth box is the extent of the
  labelled joints (14 LSP joints, head top included), optionally padded.
- :func:`time_detector`: median milliseconds per image (the whole call: resize, normalise,
  invoke, decode, NMS) and of the LiteRT invoke alone, at a given thread count.
- :func:`machine`: CPU model, cores, runtime versions, for the record.

Greedy NMS keeps a box only if no higher-scored box overlaps it, so the boxes above 0.3 of
a run at threshold 0.05 are exactly those of a run at 0.3: one run gives both numbers.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from danet_edge.detector import PersonDetector, default_detector_path

AP_SCORE_THRESHOLD = 0.05  # the usual floor for AP evaluation (mmdet, nanodet)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU (len(a), len(b)) of x, y, w, h boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def _detector(detector: PersonDetector | str | Path | None, **kwargs) -> PersonDetector:
    if isinstance(detector, PersonDetector):
        return detector
    return PersonDetector(detector, **kwargs)


def detect_coco(
    detector: PersonDetector, ann_file: str | Path, image_dir: str | Path, person_category: int = 1
) -> list[dict]:
    """COCO results (``bbox``, ``score``) of ``detector`` on every image of ``ann_file``."""
    images = json.loads(Path(ann_file).read_text())["images"]
    results = []
    for info in images:
        image = cv2.imread(str(Path(image_dir) / info["file_name"]), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(Path(image_dir) / info["file_name"])
        boxes, scores = detector(image)
        results += [
            {
                "image_id": info["id"],
                "category_id": person_category,
                "bbox": [round(float(v), 2) for v in box],
                "score": round(float(s), 5),
            }
            for box, s in zip(boxes, scores, strict=True)
        ]
    return results


def coco_box_metrics(
    ann_file: str | Path,
    results: list[dict],
    score_threshold: float = 0.3,
    person_category: int = 1,
) -> dict:
    """Person-box AP, AP50 and recall/precision at IoU 0.5 above ``score_threshold``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        dt = gt.loadRes(results) if results else None
    out = {
        "images": len(gt.getImgIds()),
        "detections": len(results),
        "persons": sum(
            1
            for a in gt.loadAnns(gt.getAnnIds(catIds=[person_category]))
            if not a.get("iscrowd", 0)
        ),
    }
    if dt is None:
        return {
            **out,
            "ap": 0.0,
            "ap50": 0.0,
            "recall": 0.0,
            "precision": 0.0,
            "true_positives": 0,
            "false_positives": 0,
        }
    ev = COCOeval(gt, dt, "bbox")
    ev.params.catIds = [person_category]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # Recall / precision at IoU 0.5, area "all", maxDets 100, from COCO's own matching.
    t = int(np.argmin(np.abs(ev.params.iouThrs - 0.5)))
    tp = fp = n_gt = 0
    for e in ev.evalImgs:
        if e is None or e["aRng"] != ev.params.areaRng[0] or e["maxDet"] != ev.params.maxDets[-1]:
            continue
        n_gt += int(np.sum(~np.asarray(e["gtIgnore"], bool)))
        scores = np.asarray(e["dtScores"])
        above = scores > score_threshold
        matched = np.asarray(e["dtMatches"])[t] > 0
        ignored = np.asarray(e["dtIgnore"])[t].astype(bool)
        tp += int(np.sum(above & matched & ~ignored))
        fp += int(np.sum(above & ~matched & ~ignored))
    return {
        **out,
        "ap": float(ev.stats[0]),
        "ap50": float(ev.stats[1]),
        "recall": tp / max(n_gt, 1),
        "precision": tp / max(tp + fp, 1),
        "true_positives": tp,
        "false_positives": fp,
        "score_threshold": score_threshold,
    }


def coco_person_boxes(
    ann_file: str | Path,
    image_dir: str | Path,
    detector: PersonDetector | str | Path | None = None,
    score_threshold: float = 0.3,
    nms_iou: float = 0.5,
    **kwargs,
) -> dict:
    """:func:`coco_box_metrics` of the detector run on ``ann_file``'s images."""
    det = _detector(detector, score_threshold=AP_SCORE_THRESHOLD, nms_iou=nms_iou, **kwargs)
    results = detect_coco(det, ann_file, image_dir)
    return coco_box_metrics(ann_file, results, score_threshold)


def lspet_boxes(ann_file: str | Path, padding: float = 0.0, limit: int | None = None):
    """(file name, joint-extent box x, y, w, h padded by ``padding`` per side) per image."""
    data = json.loads(Path(ann_file).read_text())
    names = {i["id"]: i["file_name"] for i in data["images"]}
    out = []
    for ann in sorted(data["annotations"], key=lambda a: a["image_id"]):
        k = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        k = k[k[:, 2] > 0, :2]
        if len(k) < 2:
            continue
        (x1, y1), (x2, y2) = k.min(0), k.max(0)
        w, h = x2 - x1, y2 - y1
        out.append(
            (
                names[ann["image_id"]],
                [x1 - padding * w, y1 - padding * h, w * (1 + 2 * padding), h * (1 + 2 * padding)],
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def lspet_recall(
    ann_file: str | Path,
    image_dir: str | Path,
    detector: PersonDetector | str | Path | None = None,
    score_threshold: float = 0.3,
    limit: int | None = None,
    paddings: tuple[float, ...] = (0.0, 0.15),
    iou: float = 0.5,
    **kwargs,
) -> dict:
    """Share of the labelled LSPET persons some box above ``score_threshold`` overlaps by
    IoU >= ``iou``, for each joint-extent padding; also the share with any box at all."""
    det = _detector(detector, score_threshold=score_threshold, **kwargs)
    samples = lspet_boxes(ann_file, 0.0, limit)
    hits = {p: 0 for p in paddings}
    any_box = 0
    for name, (x, y, w, h) in samples:
        image = cv2.imread(str(Path(image_dir) / name), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(Path(image_dir) / name)
        boxes, _ = det(image)
        any_box += int(len(boxes) > 0)
        for p in paddings:
            gt = [x - p * w, y - p * h, w * (1 + 2 * p), h * (1 + 2 * p)]
            if len(boxes) and iou_xywh(boxes, gt).max() >= iou:
                hits[p] += 1
    n = max(len(samples), 1)
    return {
        "images": len(samples),
        "score_threshold": score_threshold,
        "iou": iou,
        "recall": {f"{p:g}": hits[p] / n for p in paddings},
        "any_box": any_box / n,
    }


def time_detector(
    images: list[np.ndarray],
    model_path: str | Path | None = None,
    threads: tuple[int, ...] = (1, 2),
    repeats: int = 10,
    warmup: int = 2,
) -> list[dict]:
    """Median ms per image of the whole call and of the LiteRT invoke alone, per thread count.

    The thread counts are interleaved (one pass over ``images`` each, ``repeats`` times), so
    that load from other processes on a shared machine falls on all of them alike; the
    1-minute load average before and after is recorded with them.
    """
    load_before = os.getloadavg()[0]
    dets = {t: PersonDetector(model_path, num_threads=t) for t in threads}
    x, _ = dets[threads[0]].preprocess(images[0])
    for det in dets.values():
        for _ in range(warmup):
            det(images[0])
    call: dict[int, list[float]] = {t: [] for t in threads}
    invoke: dict[int, list[float]] = {t: [] for t in threads}
    for _ in range(repeats):
        for t, det in dets.items():
            for image in images:
                t0 = time.perf_counter()
                det(image)
                call[t].append((time.perf_counter() - t0) * 1e3)
                it = det._interpreter
                t0 = time.perf_counter()
                it.set_tensor(det._input_index, x)
                it.invoke()
                invoke[t].append((time.perf_counter() - t0) * 1e3)
    return [
        {
            "threads": t,
            "calls": len(call[t]),
            "ms_per_image": statistics.median(call[t]),
            "ms_invoke": statistics.median(invoke[t]),
            "ms_per_image_p90": float(np.percentile(call[t], 90)),
            "load_average_1min": [load_before, os.getloadavg()[0]],
        }
        for t in threads
    ]


def machine() -> dict:
    """CPU model (``/proc/cpuinfo``), logical cores and runtime versions."""
    info: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break  # the first processor's block is enough
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    info.setdefault("model name", platform.processor() or platform.machine())
    flags = set(info.get("flags", "").split())
    from importlib.metadata import version

    return {
        "cpu": info["model name"],
        "cpu_family": info.get("cpu family"),
        "cpu_model": info.get("model"),
        "simd": [
            f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "neon", "asimd") if f in flags
        ],
        "logical_cores": os.cpu_count(),
        "python": platform.python_version(),
        "ai_edge_litert": version("ai-edge-litert"),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }


def _accuracy(root: Path, model_path: Path, lspet_limit: int | None) -> dict:
    coco = root / "coco_sample"
    out = {"val4": coco_person_boxes(coco / "val4.json", coco / "images", model_path)}
    dets = coco / "val4_person_dets.json"
    if dets.is_file():
        reference = [r for r in json.loads(dets.read_text()) if r.get("category_id", 1) == 1]
        out["val4_reference_dets"] = coco_box_metrics(coco / "val4.json", reference)
    out["train78"] = coco_person_boxes(coco / "train.json", coco / "images", model_path)
    lsp = root / "lspet"
    if (lsp / "train_lsp14.json").is_file():
        out["lspet"] = lspet_recall(
            lsp / "train_lsp14.json", lsp / "images", model_path, limit=lspet_limit
        )
    return out


def evaluate_all(
    data_root: str | Path,
    model_path: str | Path | None = None,
    lspet_limit: int | None = 2000,
    threads: tuple[int, ...] = (1, 2),
    repeats: int = 10,
    accuracy: bool = True,
) -> dict:
    """Every measurement of docs/deployment.md (Person detector) on ``data_root`` (the DANET_DATA layout);
    ``accuracy=False``: the speed only."""
    root = Path(data_root)
    model_path = Path(model_path) if model_path else default_detector_path()
    coco = root / "coco_sample"
    out: dict = {"machine": machine(), "detector": str(model_path.name)}
    if accuracy:
        out.update(_accuracy(root, model_path, lspet_limit))
    names = [i["file_name"] for i in json.loads((coco / "val4.json").read_text())["images"]]
    images = [cv2.imread(str(coco / "images" / n), cv2.IMREAD_COLOR) for n in names]
    out["speed"] = time_detector(images, model_path, tuple(threads), repeats)
    return out
