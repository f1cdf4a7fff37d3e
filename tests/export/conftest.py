"""Fixtures for export tests: a tiny DANet at 64x64 and real person crops from coco_sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from danet_edge.codec import HeatmapCodec

INPUT_SIZE = (64, 64)


@pytest.fixture(scope="session")
def tiny_model():
    import danet_tf

    return danet_tf.build_model("danet_tiny", input_shape=(*INPUT_SIZE, 3))


@pytest.fixture(scope="session")
def crop_sets(coco_sample: Path):
    from danet_tf.export import person_crops

    crops = person_crops(coco_sample / "train.json", coco_sample / "images", HeatmapCodec.for_input(INPUT_SIZE), count=30)
    return crops.split()
