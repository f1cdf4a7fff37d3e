"""The embedded default dataset: stick figures with COCO-17 keypoints, rendered by code.

Nothing is downloaded or copied: `generate` draws every image from a seeded random state,
writes JPEGs and COCO keypoint json files (train and val) that `load_coco` reads like any
real COCO file. Each figure has a torso, a head and limbs in clothing colours plus one
coloured disc per joint (every joint its own colour, left and right distinct), so a small
model learns the task quickly. Several figures per image overlap each other; random
occluder blocks hide joints (labelled v=1, as COCO does for occluded joints); joints
outside the image are unlabelled (v=0). Backgrounds are noise textures with clutter.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from danet_tf.codec import COCO_KEYPOINTS, COCO_SKELETON
from danet_tf.data.figure import draw_figure, sample_pose

VERSION = 2
_SPLITS = ("train", "val")


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.uniform(30, 220, size=3).astype(np.float32)
    # Mostly brightness texture with a little colour, so joint colours stay distinctive.
    coarse = rng.standard_normal((max(h // 16, 2), max(w // 16, 2), 4), dtype=np.float32)
    coarse = coarse[..., :1] + 0.35 * coarse[..., 1:]
    texture = base + rng.uniform(10, 45) * cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(texture, 0, 255).astype(np.uint8)
    amp = int(rng.integers(3, 16))  # pixel noise: + U[0, amp] - U[0, amp], saturating
    noise = rng.integers(0, amp + 1, (2, h, w, 3), dtype=np.uint8)
    img = cv2.subtract(cv2.add(img, noise[0]), noise[1])
    for _ in range(rng.integers(0, 6)):  # clutter: lines and rectangles
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 5)), cv2.LINE_AA)
        else:
            cv2.rectangle(img, p1, p2, colour, -1)
    return img


def _render_image(rng: np.random.Generator, h: int, w: int, max_persons: int):
    """One image and its persons as (keypoints (17, 3), bbox xywh) pairs."""
    img = _background(rng, h, w)
    owner = np.zeros((h, w), np.uint8)  # which person (1-based) is on top of each pixel
    persons = []
    for pid in range(1, int(rng.integers(1, max_persons + 1)) + 1):
        pose = sample_pose(rng, h, w)
        draw_figure(img, owner, pid, pose, rng)
        persons.append(pose)
    if rng.random() < 0.4:  # occluder block over part of the scene
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1 = x0 + int(rng.integers(w // 10, w // 3))
        y1 = y0 + int(rng.integers(h // 10, h // 3))
        cv2.rectangle(img, (x0, y0), (x1, y1), tuple(int(c) for c in rng.uniform(0, 255, 3)), -1)
        owner[y0:y1, x0:x1] = 255
    out = []
    for pid, pose in enumerate(persons, start=1):
        kpts = np.zeros((len(COCO_KEYPOINTS), 3), np.float32)
        xy = pose.keypoints
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
        labelled = inside & pose.labelled
        kpts[labelled, :2] = xy[labelled]
        xi = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
        on_top = owner[yi, xi] == pid
        kpts[:, 2] = np.where(labelled, np.where(on_top & pose.visible, 2, 1), 0)
        x0, y0 = np.maximum(pose.extent[:2], 0)
        x1, y1 = np.minimum(pose.extent[2:], [w, h])
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append((kpts, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]))
    return img, out


def _write_split(root: Path, split: str, count: int, seed: int, size, max_persons: int) -> Path:
    h, w = size
    images, annotations = [], []
    for i in range(count):
        rng = np.random.default_rng([seed, _SPLITS.index(split), i, VERSION])
        img, persons = _render_image(rng, h, w, max_persons)
        name = f"{split}_{i:06d}.jpg"
        cv2.imwrite(str(root / "images" / name), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        image_id = i + 1
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for kpts, box in persons:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [round(v, 2) for v in box],
                    "area": round(0.55 * box[2] * box[3], 2),
                    "num_keypoints": int((kpts[:, 2] > 0).sum()),
                    "keypoints": [round(float(v), 2) for v in kpts.reshape(-1)],
                }
            )
    category = {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO_KEYPOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
    }
    path = root / f"{split}.json"
    info = {"description": "danet_tf synthetic stick figures", "version": VERSION}
    data = {"info": info, "images": images, "annotations": annotations, "categories": [category]}
    path.write_text(json.dumps(data))
    return path


def generate(
    out_dir: str | Path,
    num_train: int = 400,
    num_val: int = 100,
    seed: int = 0,
    image_size: tuple[int, int] = (240, 320),
    max_persons: int = 3,
) -> dict[str, Path]:
    """Render the synthetic dataset into ``out_dir`` (idempotent).

    Args:
        out_dir: target directory; gets ``images/``, ``train.json``, ``val.json`` and a
            ``manifest.json`` of the parameters.
        num_train, num_val: images per split (each holds 1 to ``max_persons`` figures).
        seed: the same seed gives byte-identical annotations and images.
        image_size: (height, width) of every image.
        max_persons: most figures per image.

    Returns:
        ``{"root", "train_annotations", "train_images", "val_annotations", "val_images"}``
        (paths; pass an annotation file and its image dir to `load_coco`). If ``out_dir`` already holds a set made with the same parameters it
        is reused without rendering anything.
    """
    h, w = (int(v) for v in image_size)
    if h < 64 or w < 64:
        raise ValueError(f"image_size must be at least (64, 64) (h, w), got {image_size!r}")
    if num_train < 0 or num_val < 0 or max_persons < 1:
        raise ValueError(
            f"need num_train, num_val >= 0 and max_persons >= 1; got {num_train}, {num_val}, "
            f"{max_persons}"
        )
    root = Path(out_dir)
    paths = {
        "root": root,
        "train_annotations": root / "train.json",
        "train_images": root / "images",
        "val_annotations": root / "val.json",
        "val_images": root / "images",
    }
    params = {
        "version": VERSION,
        "num_train": int(num_train),
        "num_val": int(num_val),
        "seed": int(seed),
        "image_size": [h, w],
        "max_persons": int(max_persons),
    }
    manifest = root / "manifest.json"
    if manifest.is_file() and all(paths[k].exists() for k in paths):
        try:
            if json.loads(manifest.read_text()) == params:
                return paths
        except json.JSONDecodeError:
            pass
    paths["train_images"].mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)  # written last: a half-made set is never reused
    _write_split(root, "train", num_train, seed, (h, w), max_persons)
    _write_split(root, "val", num_val, seed, (h, w), max_persons)
    manifest.write_text(json.dumps(params))
    return paths
