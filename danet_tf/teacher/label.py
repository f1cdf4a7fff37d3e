"""``danet-label``: one COCO keypoint json of real people, human labels first, teacher after.

Sources, each optional, all read under one data root (``file_name`` in the output is relative
to it, so training takes ``--images DATA_ROOT``):

- ``lspet``: ``lspet/train_coco17.json`` (12 limb joints labelled by people, no face). Images
  whose number lies in ``holdout`` (default 9001-9500) are never written to the training file;
  ``--val-output`` writes them, with their human labels only, as the held-out set.
- ``coco``: ``coco_sample/train.json`` (COCO 2017 train persons; ``val4.json`` is never read).
- ``mpii``: ``mpii_unlabelled/images.txt``, no labels: the person detector finds the people,
  the teacher gives every joint.

Every human label is kept as it is. A joint humans did not label (v = 0) is filled with the
teacher's point when the teacher's confidence reaches ``threshold`` (v = 2). Each annotation
written records ``teacher: {"joints": [...], "score": [17 confidences]}`` (the joints that
came from the teacher, and what it said for every joint) and ``source``; the json's ``info``
names the teacher file (sha256), the crop, the threshold and the counts.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from danet_tf.teacher.movenet import MoveNet

SOURCES = ("lspet", "coco", "mpii")
LSPET_JSON = "lspet/train_coco17.json"
COCO_JSON = "coco_sample/train.json"
MPII_LIST = "mpii_unlabelled/images.txt"
AREA_FACTOR = 0.53  # area / box area, as the shared LSPET and COCO-sample files approximate


@dataclass
class LabelConfig:
    data_root: Path
    sources: tuple[str, ...] = SOURCES
    teacher: str = "movenet_thunder"
    teacher_path: str | None = None
    threshold: float = 0.5
    padding: float = 1.25
    holdout: tuple[int, int] = (9001, 9500)
    det_threshold: float = 0.5
    min_joints: int = 8  # an unlabelled person needs this many confident teacher joints
    min_height: float = 48.0  # ... and a detector box at least this tall (px)
    limit: int | None = None  # at most this many images per source (tests, quick looks)
    num_threads: int = 2
    counts: dict = field(default_factory=dict)


def _lspet_number(file_name: str) -> int:
    m = re.search(r"(\d+)", Path(file_name).stem)
    if m is None:
        raise ValueError(f"LSPET file name {file_name!r} has no image number")
    return int(m.group(1))


def _fill(ann: dict, pose, threshold: float) -> dict:
    """``ann`` with its v = 0 joints taken from the teacher where it is confident enough."""
    k = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
    if k.shape[0] != len(pose.score):
        raise ValueError(f"annotation {ann['id']}: {k.shape[0]} joints, the teacher gives 17")
    filled = [int(j) for j in np.flatnonzero((k[:, 2] == 0) & (pose.score >= threshold))]
    for j in filled:
        k[j] = (pose.xy[j, 0], pose.xy[j, 1], 2)
    out = dict(ann)
    out["keypoints"] = [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(k.ravel())]
    out["num_keypoints"] = int((k[:, 2] > 0).sum())
    out["teacher"] = {"joints": filled, "score": [round(float(s), 3) for s in pose.score]}
    return out


class Labeller:
    def __init__(self, cfg: LabelConfig):
        from danet_edge.images import read_image

        self.cfg = cfg
        self.read = read_image
        self.teacher = MoveNet(
            cfg.teacher, cfg.teacher_path, padding=cfg.padding, num_threads=cfg.num_threads
        )
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.val_images: list[dict] = []
        self.val_annotations: list[dict] = []
        self.counts: dict[str, dict[str, int]] = {}

    def _count(self, source: str, key: str, n: int = 1) -> None:
        self.counts.setdefault(source, {}).setdefault(key, 0)
        self.counts[source][key] += n

    def _image(self, source: str, rel: str, width: int, height: int) -> tuple[int, np.ndarray | None]:
        image, why = self.read(self.cfg.data_root / rel, rgb=True)
        if image is None:
            self._count(source, f"skipped image: {why}")
            return 0, None
        if image.shape[:2] != (height, width):
            self._count(source, "skipped image: size differs from the annotation's")
            return 0, None
        image_id = len(self.images) + len(self.val_images) + 1
        return image_id, image

    def _labelled(self, source: str, ann_file: str, image_dir: str, holdout=None) -> None:
        data = json.loads((self.cfg.data_root / ann_file).read_text())
        by_image: dict[int, list[dict]] = {}
        for ann in data["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
        images = sorted(data["images"], key=lambda im: im["id"])[: self.cfg.limit]
        for img in images:
            rel = f"{image_dir}/{img['file_name']}"
            held = holdout is not None and holdout[0] <= _lspet_number(rel) <= holdout[1]
            image_id, image = self._image(source, rel, img["width"], img["height"])
            if image is None:
                continue
            entry = {"id": image_id, "file_name": rel, "width": img["width"],
                     "height": img["height"], "source": source}
            anns = by_image.get(img["id"], [])
            if held:  # the held-out set: human labels only
                self.val_images.append(entry)
                for ann in anns:
                    self.val_annotations.append(
                        {**ann, "id": len(self.val_annotations) + 1, "image_id": image_id}
                    )
                self._count(source, "held-out persons", len(anns))
                continue
            self.images.append(entry)
            for ann in anns:
                x, y, w, h = ann["bbox"]
                if w <= 1 or h <= 1:
                    self._count(source, "skipped person: box under 1 px")
                    continue
                out = _fill(ann, self.teacher(image, ann["bbox"]), self.cfg.threshold)
                out.update(id=len(self.annotations) + 1, image_id=image_id, source=source)
                self.annotations.append(out)
                self._count(source, "persons")
                self._count(source, "teacher joints", len(out["teacher"]["joints"]))

    def _unlabelled(self, source: str, list_file: str, image_dir: str) -> None:
        from danet_edge.detector import PersonDetector

        detector = PersonDetector(score_threshold=self.cfg.det_threshold, num_threads=2)
        lines = (self.cfg.data_root / list_file).read_text().split("\n")
        rows = [ln.split() for ln in lines if ln.strip()][: self.cfg.limit]
        for name, width, height, *_ in rows:
            rel = f"{image_dir}/{name}"
            image_id, image = self._image(source, rel, int(width), int(height))
            if image is None:
                continue
            boxes, scores = detector(image, rgb=True)
            kept = []
            for box, score in zip(boxes, scores, strict=True):
                x, y, w, h = (float(v) for v in box)
                if h < self.cfg.min_height or w < 2:
                    self._count(source, "skipped person: box too small")
                    continue
                pose = self.teacher(image, box)
                if int((pose.score >= self.cfg.threshold).sum()) < self.cfg.min_joints:
                    self._count(source, "skipped person: too few confident joints")
                    continue
                blank = {"keypoints": [0] * 51, "id": 0}
                out = _fill(blank, pose, self.cfg.threshold)
                out.update(
                    id=len(self.annotations) + len(kept) + 1, image_id=image_id, category_id=1,
                    iscrowd=0,
                    bbox=[round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                    area=round(AREA_FACTOR * w * h, 2), area_approx=True,
                    detector_score=round(float(score), 3), source=source,
                )
                kept.append(out)
            if not kept:
                self._count(source, "images without a kept person")
                continue
            self.images.append({"id": image_id, "file_name": rel, "width": int(width),
                                "height": int(height), "source": source})
            self.annotations.extend(kept)
            self._count(source, "persons", len(kept))
            self._count(source, "teacher joints", sum(len(a["teacher"]["joints"]) for a in kept))

    def run(self) -> None:
        for source in self.cfg.sources:
            start = time.perf_counter()
            if source == "lspet":
                self._labelled(source, LSPET_JSON, "lspet/images", self.cfg.holdout)
            elif source == "coco":
                self._labelled(source, COCO_JSON, "coco_sample/images")
            elif source == "mpii":
                self._unlabelled(source, MPII_LIST, "mpii_unlabelled/images")
            else:
                raise ValueError(f"unknown source {source!r}; known: {SOURCES}")
            self._count(source, "seconds", round(time.perf_counter() - start))

    def info(self) -> dict:
        from danet_tf.detector.fetch import sha256_file

        return {
            "description": "danet-label: human keypoint labels, unlabelled joints from the teacher",
            "teacher": {
                "name": self.cfg.teacher,
                "file": self.teacher.model_path.name,
                "sha256": sha256_file(self.teacher.model_path),
                "crop": f"square, {self.cfg.padding} x the box's longer side, "
                f"{self.teacher.input_size} px",
                "threshold": self.cfg.threshold,
                "licence": "Apache-2.0 (MoveNet, Google)",
            },
            "teacher_joints": "v = 0 joints filled where the teacher's score >= threshold "
            "(v = 2); each annotation's teacher.joints lists them, teacher.score has all 17",
            "sources": list(self.cfg.sources),
            "holdout": {"lspet": list(self.cfg.holdout)},
            "unlabelled": {"detector_threshold": self.cfg.det_threshold,
                           "min_joints": self.cfg.min_joints, "min_height": self.cfg.min_height},
            "counts": self.counts,
        }


def _category() -> dict:
    from danet_tf.codec import COCO_KEYPOINTS, COCO_SKELETON

    return {"id": 1, "name": "person", "supercategory": "person",
            "keypoints": list(COCO_KEYPOINTS),
            "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}


def write_json(path: Path, data: dict) -> None:
    from danet_tf.atomic import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


def label(cfg: LabelConfig, output: Path, val_output: Path | None = None) -> dict:
    """Label, write ``output`` (and ``val_output``), return the ``info`` written."""
    labeller = Labeller(cfg)
    labeller.run()
    info = labeller.info()
    write_json(output, {"info": info, "images": labeller.images,
                        "annotations": labeller.annotations, "categories": [_category()]})
    if val_output is not None:
        write_json(val_output, {
            "info": {"description": "danet-label: held-out persons, human labels only",
                     "holdout": info["holdout"]},
            "images": labeller.val_images, "annotations": labeller.val_annotations,
            "categories": [_category()],
        })
    return info


__all__ = ["SOURCES", "LabelConfig", "Labeller", "label"]
