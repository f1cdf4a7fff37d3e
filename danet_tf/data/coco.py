"""COCO keypoint json reader (any keypoint count) and the 14-joint LSP layout in COCO form."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from danet_tf.codec import KeypointInfo
from danet_tf.data.dataset import (
    AnnotationError,
    FilterCounts,
    PoseDataset,
    PoseSample,
    filter_person,
    log_counts,
)


def default_image_dir(ann_file: str | Path) -> Path:
    """``<dir of the json>/images`` when it exists (the layout of the shared data), else the dir."""
    parent = Path(ann_file).resolve().parent
    return parent / "images" if (parent / "images").is_dir() else parent


def load_json(path: Path) -> object:
    if not path.is_file():
        raise FileNotFoundError(f"annotation file {path} does not exist")
    try:
        with path.open("rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(path, f"not valid json ({exc})") from exc


def _keypoint_category(path: Path, data: dict, category_id: int | None) -> dict:
    cats = data["categories"]
    if not isinstance(cats, list):
        raise AnnotationError(path, f"'categories' must be a list, got {type(cats).__name__}")
    if category_id is not None:
        found = [c for c in cats if isinstance(c, dict) and c.get("id") == category_id]
        if not found:
            ids = [c.get("id") for c in cats if isinstance(c, dict)]
            raise AnnotationError(path, f"no category with id {category_id}; ids: {ids}")
        cat = found[0]
    else:
        found = [c for c in cats if isinstance(c, dict) and c.get("keypoints")]
        if not found:
            raise AnnotationError(path, "no category has a non-empty 'keypoints' name list")
        cat = found[0]
    if not cat.get("keypoints") or "id" not in cat:
        raise AnnotationError(path, f"category {cat.get('name')!r} lacks 'id' or 'keypoints'")
    return cat


def _validate(path: Path, data: object, category_id: int | None) -> dict:
    if not isinstance(data, dict):
        raise AnnotationError(path, f"top level must be an object, got {type(data).__name__}")
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise AnnotationError(
            path,
            f"missing key(s) {missing}; a COCO keypoint file needs "
            "'images', 'annotations' and 'categories'",
        )
    cat = _keypoint_category(path, data, category_id)
    num_kpts = len(cat["keypoints"])
    image_ids = set()
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise AnnotationError(path, f"images[{i}] needs 'id' and 'file_name', got {img!r}")
        image_ids.add(img["id"])
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise AnnotationError(path, f"annotations[{i}] is not an object: {ann!r}")
        if ann.get("category_id") != cat["id"]:
            continue
        for key in ("image_id", "bbox", "keypoints"):
            if key not in ann:
                raise AnnotationError(path, f"annotations[{i}] (id {ann.get('id')}) has no {key!r}")
        if ann["image_id"] not in image_ids:
            raise AnnotationError(
                path,
                f"annotations[{i}] (id {ann.get('id')}) refers to unknown image_id "
                f"{ann['image_id']!r}",
            )
        if len(ann["keypoints"]) != 3 * num_kpts:
            raise AnnotationError(
                path,
                f"annotations[{i}] (id {ann.get('id')}) has {len(ann['keypoints'])} "
                f"keypoint values; category {cat.get('name')!r} with {num_kpts} "
                f"keypoints needs {3 * num_kpts}",
            )
        if len(ann["bbox"]) != 4:
            raise AnnotationError(
                path, f"annotations[{i}] (id {ann.get('id')}) bbox {ann['bbox']!r} is not x,y,w,h"
            )
    return cat


def load_coco(
    ann_file: str | Path,
    image_dir: str | Path | None = None,
    *,
    category_id: int | None = None,
    num_keypoints: int | None = None,
    min_box_area: float = 0.0,
) -> PoseDataset:
    """Read a COCO keypoint json into person samples (via pycocotools).

    Args:
        ann_file: the annotation json (``images``, ``annotations``, ``categories``).
        image_dir: where ``file_name`` is relative to; default `default_image_dir`.
        category_id: the category to read; default the first one with keypoint names.
        num_keypoints: if given, the category must have exactly this many keypoints.
        min_box_area: drop persons whose annotated box (w x h, before clipping) is smaller,
            counted as ``small_box`` (the DANet authors' reader names 1500 px^2).

    Returns:
        A PoseDataset; crowd persons, persons with no labelled keypoint, small boxes and
        boxes that are empty after clipping to the image are dropped and counted.

    Raises:
        AnnotationError: malformed or inconsistent file (message names file and problem).
    """
    path = Path(ann_file)
    data = load_json(path)
    cat = _validate(path, data, category_id)
    if num_keypoints is not None and len(cat["keypoints"]) != num_keypoints:
        raise AnnotationError(
            path,
            f"expected {num_keypoints} keypoints, category "
            f"{cat.get('name')!r} has {len(cat['keypoints'])}",
        )
    try:
        info = KeypointInfo.from_coco_category(cat)
    except ValueError as exc:
        raise AnnotationError(path, f"bad keypoint metadata: {exc}") from exc
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    root = Path(image_dir) if image_dir is not None else default_image_dir(path)
    counts = FilterCounts()
    samples = []
    for image_id in sorted(coco.imgs):
        img = coco.imgs[image_id]
        size = (img.get("width"), img.get("height"))
        image_path = str((root / img["file_name"]).resolve())
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, catIds=[cat["id"]])):
            kpts = np.asarray(ann["keypoints"], np.float32).reshape(-1, 3)
            box = filter_person(
                np.asarray(ann["bbox"], np.float32),
                kpts,
                counts,
                is_crowd=bool(ann.get("iscrowd", 0)),
                image_size=size if all(size) else None,
                min_box_area=min_box_area,
            )
            if box is not None:
                samples.append(
                    PoseSample(image_path, int(image_id), box, kpts, int(ann.get("id", -1)))
                )
    log_counts(path, counts)
    return PoseDataset(samples, info, counts, str(path))


def load_lsp(ann_file: str | Path, image_dir: str | Path | None = None) -> PoseDataset:
    """Read 14-joint LSP / LSPET annotations in COCO layout (e.g. ``lspet/train_lsp14.json``)."""
    return load_coco(ann_file, image_dir, num_keypoints=14)
