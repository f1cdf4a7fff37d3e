"""Pictures that read at a glance: score labels never overlap, boxes are thinner than limbs."""

from __future__ import annotations

import numpy as np

from danet_edge.draw import LabelPlacer, draw_poses


def _overlap(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def test_labels_of_crowded_joints_do_not_overlap():
    image = np.zeros((200, 200, 3), np.uint8)
    placer = LabelPlacer(0.35)
    rng = np.random.default_rng(0)
    placed = [placer.place(image, f"{s:.2f}", (int(x), int(y)), 4)
              for s, x, y in zip(rng.random(40), rng.integers(90, 110, 40), rng.integers(90, 110, 40),
                                 strict=True)]  # fmt: skip
    assert 2 <= sum(placed) < 40  # some fit, the rest are left out
    rects = placer.taken
    assert all(not _overlap(a, b) for i, a in enumerate(rects) for b in rects[i + 1:])


def test_boxes_are_drawn_thinner_than_limbs():
    from danet_edge.topdown import Poses

    kpts = np.array([[[60.0, 60.0], [140.0, 140.0]]], np.float32)
    poses = Poses(kpts, np.ones((1, 2), np.float32), np.array([[20, 20, 160, 160]], np.float32))
    out = draw_poses(np.zeros((200, 200, 3), np.uint8), poses, ["left_a", "left_b"], [(0, 1)],
                     show_scores=False)  # fmt: skip
    box_rows = np.flatnonzero((out[10:30, 100] > 100).all(axis=1))  # the box's top edge
    limb = (out[100, 80:120] > 100).any(axis=1).sum()  # the diagonal limb across row 100
    assert 1 <= len(box_rows) <= 2 < limb
    assert min(int(v) for v in out[20, 100]) > 200  # the box is there, white (BOX)
