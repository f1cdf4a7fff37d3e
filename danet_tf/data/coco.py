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
    check_numbers,
    check_positive,
    filter_person,
    is_integer,
    log_counts,
    shown,
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


def _validate_images(path: Path, images: object) -> dict:
    """id -> image entry; refuses duplicate ids and wrongly typed fields."""
    if not isinstance(images, list):
        raise AnnotationError(path, f"'images' must be a list, got {shown(images)}")
    first: dict = {}
    for i, img in enumerate(images):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise AnnotationError(path, f"images[{i}] needs 'id' and 'file_name', got {shown(img)}")
        image_id = img["id"]
        if not is_integer(image_id):
            raise AnnotationError(
                path, f"images[{i}]: 'id' must be an integer, got {shown(image_id)}"
            )
        where = f"image id {image_id} (images[{i}])"
        if image_id in first:
            j = first[image_id][0]
            raise AnnotationError(
                path,
                f"image id {image_id} appears twice (images[{j}] {shown(images[j]['file_name'])} "
                f"and images[{i}] {shown(img['file_name'])}): annotations would crop one image's "
                "persons from the other file",
            )
        name = img["file_name"]
        if not isinstance(name, str) or not name:
            raise AnnotationError(
                path, f"{where}: 'file_name' must be a file name, got {shown(name)}"
            )
        for key in ("width", "height"):
            check_positive(path, where, key, img.get(key))
        first[image_id] = (i, img)
    return {k: v for k, (_, v) in first.items()}


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
    images = _validate_images(path, data["images"])
    anns = data["annotations"]
    if not isinstance(anns, list):
        raise AnnotationError(path, f"'annotations' must be a list, got {shown(anns)}")
    seen: dict[int, int] = {}
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            raise AnnotationError(path, f"annotations[{i}] is not an object: {shown(ann)}")
        if "id" not in ann:
            raise AnnotationError(path, f"annotations[{i}] has no 'id'")
        ann_id = ann["id"]
        if not is_integer(ann_id):
            raise AnnotationError(
                path, f"annotations[{i}]: 'id' must be an integer, got {shown(ann_id)}"
            )
        if ann_id in seen:
            raise AnnotationError(
                path,
                f"annotation id {ann_id} appears twice (annotations[{seen[ann_id]}] and "
                f"annotations[{i}]): pycocotools indexes annotations by id, so one person "
                "would vanish and the other count twice",
            )
        seen[ann_id] = i
        where = f"annotation id {ann_id} (annotations[{i}])"
        for key in ("image_id", "category_id"):
            if key not in ann:
                raise AnnotationError(path, f"{where} has no {key!r}")
        if not is_integer(ann["image_id"]) or ann["image_id"] not in images:
            raise AnnotationError(
                path, f"{where} refers to unknown image_id {shown(ann['image_id'])}"
            )
        if ann["category_id"] != cat["id"]:
            continue
        for key in ("bbox", "keypoints"):
            if key not in ann:
                raise AnnotationError(path, f"{where} has no {key!r}")
        check_numbers(path, where, "bbox", ann["bbox"], 4, "x, y, w, h")
        kpts = ann["keypoints"]
        if isinstance(kpts, list) and len(kpts) != 3 * num_kpts:
            raise AnnotationError(
                path,
                f"{where} has {len(kpts)} keypoint values; category {cat.get('name')!r} with "
                f"{num_kpts} keypoints needs {3 * num_kpts}",
            )
        check_numbers(
            path, where, "keypoints", kpts, 3 * num_kpts, f"x, y, v for {num_kpts} keypoints"
        )
        for j in range(num_kpts):
            if kpts[3 * j + 2] not in (0, 1, 2):
                raise AnnotationError(
                    path,
                    f"{where}: keypoint {j} ({cat['keypoints'][j]!r}) has visibility "
                    f"{shown(kpts[3 * j + 2])}; COCO allows 0, 1 or 2",
                )
        if ann.get("iscrowd", 0) not in (0, 1):
            raise AnnotationError(
                path, f"{where}: 'iscrowd' must be 0 or 1, got {shown(ann['iscrowd'])}"
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
                    PoseSample(image_path, int(image_id), box, kpts, int(ann.get("id", -1)),
                               (int(size[0]), int(size[1])) if all(size) else None)
                )
    log_counts(path, counts)
    return PoseDataset(samples, info, counts, str(path))


def load_lsp(ann_file: str | Path, image_dir: str | Path | None = None) -> PoseDataset:
    """Read 14-joint LSP / LSPET annotations in COCO layout (e.g. ``lspet/train_lsp14.json``)."""
    return load_coco(ann_file, image_dir, num_keypoints=14)
