"""Drawing poses on images: left limbs warm, right limbs cool, the rest neutral; labels with
an outline so they read on any background."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# BGR. The side of a limb or joint comes from its keypoint names ("left_..."/"right_...").
LEFT = (0, 140, 255)  # orange
RIGHT = (255, 160, 0)  # blue
CENTER = (60, 220, 60)  # green
BOX = (255, 255, 255)


def side(name: str) -> str:
    """``left``, ``right`` or ``center`` from a keypoint name (l_/r_ prefixes too)."""
    n = name.lower()
    if n.startswith(("left", "l_")) or "_left" in n:
        return "left"
    if n.startswith(("right", "r_")) or "_right" in n:
        return "right"
    return "center"


def _color(*names: str) -> tuple[int, int, int]:
    sides = {side(n) for n in names}
    if sides == {"left"}:
        return LEFT
    if sides == {"right"}:
        return RIGHT
    return CENTER


def draw_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    """White text with a black outline, in place."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 2))
    cv2.putText(image, text, origin, font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, font, scale, (255, 255, 255), thick, cv2.LINE_AA)


class LabelPlacer:
    """Places score labels where they overlap no label placed before (tries four spots
    around the point; a label that fits nowhere is left out rather than drawn over another)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.thick = max(1, round(scale * 2)) + 2
        self.taken: list[tuple[int, int, int, int]] = []

    def place(self, image: np.ndarray, text: str, anchor: tuple[int, int], gap: int) -> bool:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.scale, self.thick)
        x, y = anchor
        h, w = image.shape[:2]
        for ox, oy in ((x + gap, y - gap), (x + gap, y + gap + th), (x - gap - tw, y - gap),
                       (x - gap - tw, y + gap + th)):  # fmt: skip
            rect = (ox, oy - th, ox + tw, oy + base)
            if rect[0] < 0 or rect[1] < 0 or rect[2] > w or rect[3] > h:
                continue
            if any(not (rect[2] <= r[0] or r[2] <= rect[0] or rect[3] <= r[1] or r[3] <= rect[1])
                   for r in self.taken):  # fmt: skip
                continue
            self.taken.append(rect)
            draw_text(image, text, (ox, oy), self.scale)
            return True
        return False


def draw_poses(
    image: np.ndarray,
    poses,
    names: Sequence[str],
    skeleton: Sequence[Sequence[int]],
    score_threshold: float = 0.2,
    show_scores: bool = True,
) -> np.ndarray:
    """A copy of the BGR ``image`` with each person's box, limbs and joints drawn.

    Args:
        poses: :class:`danet_edge.topdown.Poses`.
        names: keypoint names (they decide left/right colours).
        skeleton: index pairs of the limbs.
        score_threshold: joints (and limbs) below this confidence are not drawn.
        show_scores: label joints with their confidence and boxes with their score (labels
            never overlap: one that fits nowhere near its point is left out).
    """
    out = image.copy()
    unit = max(1, round(max(image.shape[:2]) / 400))
    labels = LabelPlacer(0.35 * unit)
    for box, box_score, kpts, scores in zip(
        poses.boxes, poses.box_scores, poses.keypoints, poses.scores, strict=True
    ):
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX, 1, cv2.LINE_AA)  # thinner than limbs
        if show_scores:
            labels.place(out, f"{float(box_score):.2f}", (x, y + 2), 2)
        for a, b in skeleton:
            if scores[a] >= score_threshold and scores[b] >= score_threshold:
                pa = tuple(int(round(v)) for v in kpts[a])
                pb = tuple(int(round(v)) for v in kpts[b])
                cv2.line(out, pa, pb, _color(names[a], names[b]), 2 * unit, cv2.LINE_AA)
        for name, (px, py), s in zip(names, kpts, scores, strict=True):
            if s < score_threshold:
                continue
            p = (int(round(px)), int(round(py)))
            cv2.circle(out, p, 2 * unit + 2, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(out, p, 2 * unit + 1, _color(name), -1, cv2.LINE_AA)
            if show_scores:
                labels.place(out, f"{s:.2f}", p, 4)
    return out
