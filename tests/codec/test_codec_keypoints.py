"""Keypoint metadata and flip pairs derived from names, on the real datasets' categories."""

import json

import numpy as np
import pytest

from danet_tf.codec import (
    COCO_FLIP_PAIRS,
    COCO_KEYPOINTS,
    COCO_SIGMAS,
    COCO_SKELETON,
    MPII_KEYPOINTS,
    KeypointInfo,
    flip_pairs_from_names,
)


def test_coco_category_matches_constants(coco_sample):
    cat = json.loads((coco_sample / "val4.json").read_text())["categories"][0]
    info = KeypointInfo.from_coco_category(cat)
    assert info.names == COCO_KEYPOINTS
    assert info.flip_pairs == COCO_FLIP_PAIRS
    assert info.skeleton == COCO_SKELETON
    np.testing.assert_allclose(info.sigmas, COCO_SIGMAS)
    assert KeypointInfo.coco() == info


def test_lsp_category_pairs(lspet):
    cat = json.loads((lspet / "train_lsp14.json").read_text())["categories"][0]
    info = KeypointInfo.from_coco_category(cat)
    assert info.num_keypoints == 14
    assert info.flip_pairs == ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9))
    assert info.sigmas is None
    assert (12, 13) in info.skeleton  # neck - head_top, 0-based


def test_mpii_and_prefixed_names():
    assert flip_pairs_from_names(MPII_KEYPOINTS) == (
        (0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13),
    )  # fmt: skip
    assert flip_pairs_from_names(["r_ankle", "l_ankle", "medial_left_bow", "medial_right_bow"]) == (
        (0, 1),
        (2, 3),
    )


def test_bad_metadata_names_the_value():
    with pytest.raises(ValueError, match="out of range for 3"):
        KeypointInfo(("a", "b", "c"), ((0, 5),))
    with pytest.raises(ValueError, match="2 sigmas for 3"):
        KeypointInfo(("a", "b", "c"), (), (), (0.1, 0.2))
    with pytest.raises(ValueError, match="'person'"):
        KeypointInfo.from_coco_category({"name": "person"})
