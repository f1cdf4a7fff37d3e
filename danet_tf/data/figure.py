"""Random articulated stick figures with COCO-17 joints, for the synthetic dataset.

Poses come from a small kinematic model (torso, head, two-segment limbs) in units of the
figure height, turned, scaled and placed at random. Joints are drawn as discs whose colour
identifies the joint; left joints take hues 0-80, right joints 90-170 (OpenCV hue scale),
the nose is white. Everything is drawn with 4 fractional bits so labels are sub-pixel exact.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT
# COCO-17: 0 nose, 1/2 eyes, 3/4 ears, 5/6 shoulders, 7/8 elbows, 9/10 wrists, 11/12 hips,
# 13/14 knees, 15/16 ankles (odd = left, even = right).
_LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))


def _palette() -> np.ndarray:
    hsv = np.zeros((17, 1, 3), np.uint8)
    hsv[:, 0, 1:] = 255
    for pair in range(8):
        hsv[1 + 2 * pair, 0, 0] = pair * 11  # left
        hsv[2 + 2 * pair, 0, 0] = 90 + pair * 11  # right
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0].astype(int)
    bgr[0] = (255, 255, 255)
    return bgr


JOINT_COLOURS = _palette()  # BGR, one row per COCO joint


@dataclasses.dataclass
class Pose:
    keypoints: np.ndarray  # (17, 2) image pixels
    labelled: np.ndarray  # (17,) bool: an annotator would label it
    visible: np.ndarray  # (17,) bool: not self-occluded (e.g. far ear in profile)
    extent: np.ndarray  # (4,) x0, y0, x1, y1 of the drawn figure
    height: float  # figure height in pixels
    head_center: np.ndarray  # (2,)
    head_radius: float


def _limb(start: np.ndarray, angle_deg: float, length: float) -> np.ndarray:
    """End point of a segment hanging at ``angle_deg`` from straight down (y grows down)."""
    a = np.deg2rad(angle_deg)
    return start + length * np.array([np.sin(a), np.cos(a)])


def sample_pose(rng: np.random.Generator, h: int, w: int) -> Pose:
    """A random figure inside (or partly outside) an image of h x w pixels."""
    height = float(rng.uniform(0.3, 0.85) * h)
    side = 1.0 if rng.random() < 0.7 else -1.0  # +1 facing the camera: its left on our right
    p = rng.uniform(0.9, 1.1, size=6)  # per-person proportions
    k = np.zeros((17, 2))
    neck = np.array([0.0, -0.30 * p[0]])
    k[5], k[6] = neck + [0.11 * p[1] * side, 0.01], neck + [-0.11 * p[1] * side, 0.01]
    k[11], k[12] = np.array([0.075 * side, 0.0]), np.array([-0.075 * side, 0.0])
    for s, e, wri in ((5, 7, 9), (6, 8, 10)):
        a1 = rng.uniform(-150, 150)
        k[e] = _limb(k[s], a1, 0.17 * p[2])
        k[wri] = _limb(k[e], a1 + rng.uniform(-140, 140), 0.16 * p[2])
    for hip, knee, ank in ((11, 13, 15), (12, 14, 16)):
        a1 = rng.uniform(-60, 60)
        k[knee] = _limb(k[hip], a1, 0.24 * p[3])
        k[ank] = _limb(k[knee], a1 + rng.uniform(-10, 120) * -np.sign(a1 + 1e-3), 0.23 * p[3])
    head = neck + [0.0, -0.09 * p[4]]
    yaw = rng.uniform(-1, 1)
    k[0] = head + [0.035 * yaw * side, 0.015]
    k[1], k[2] = k[0] + [0.025 * side, -0.025], k[0] + [-0.025 * side, -0.025]
    k[3], k[4] = head + [0.06 * side, -0.005], head + [-0.06 * side, -0.005]
    labelled = np.ones(17, bool)
    visible = np.ones(17, bool)
    if side < 0:
        labelled[:3] = False  # face turned away: nose and eyes are not annotated
    if yaw > 0.6:
        visible[4] = False
    elif yaw < -0.6:
        visible[3] = False
    tilt = rng.normal(0, 15) if rng.random() < 0.85 else rng.uniform(-180, 180)
    t = np.deg2rad(tilt)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.1, 0.9) * h])
    to_img = lambda pts: (np.asarray(pts) @ rot.T) * height + centre  # noqa: E731
    kpts = to_img(k)
    head_c = to_img(head)
    radius = 0.065 * p[4] * height
    margin = 0.03 * height
    lo = np.minimum(kpts.min(0), head_c - radius) - margin
    hi = np.maximum(kpts.max(0), head_c + radius) + margin
    return Pose(kpts, labelled, visible, np.concatenate([lo, hi]), height, head_c, radius)


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return int(round(xy[0] * _ONE)), int(round(xy[1] * _ONE))


def draw_figure(
    img: np.ndarray, owner: np.ndarray, pid: int, pose: Pose, rng: np.random.Generator
) -> None:
    """Draw ``pose`` onto ``img`` (BGR) and mark its pixels ``pid`` in ``owner``."""
    k, hgt = pose.keypoints, pose.height
    cloth = tuple(int(c) for c in rng.uniform(20, 200, 3))
    skin = tuple(int(c) for c in rng.uniform(60, 230, 3))
    thick = max(2, int(0.05 * hgt))
    torso = np.array([_pt(k[i]) for i in (5, 6, 12, 11)], np.int32)
    neck = (k[5] + k[6]) / 2
    for canvas, c_cloth, c_skin in ((img, cloth, skin), (owner, pid, pid)):
        cv2.fillConvexPoly(canvas, torso, c_cloth, cv2.LINE_AA, _SHIFT)
        cv2.line(canvas, _pt(neck), _pt(pose.head_center), c_skin, thick, cv2.LINE_AA, _SHIFT)
        cv2.circle(
            canvas,
            _pt(pose.head_center),
            int(pose.head_radius * _ONE),
            c_skin,
            -1,
            cv2.LINE_AA,
            _SHIFT,
        )
        for a, b in _LIMBS:
            cv2.line(canvas, _pt(k[a]), _pt(k[b]), c_cloth, thick, cv2.LINE_AA, _SHIFT)
    radius = max(2.0, 0.025 * hgt)
    for j in range(17):
        if not (pose.labelled[j] and pose.visible[j]):
            continue
        r = radius * (0.6 if j < 5 else 1.0)
        colour = tuple(int(c) for c in JOINT_COLOURS[j])
        cv2.circle(img, _pt(k[j]), int(r * _ONE), colour, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(owner, _pt(k[j]), int(r * _ONE), pid, -1, cv2.LINE_8, _SHIFT)
