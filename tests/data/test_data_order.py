"""Training order: a full permutation of the samples per pass, reproducible, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from danet_tf.codec import HeatmapCodec
from danet_tf.data import build_dataset, load_coco
from danet_tf.data.order import epoch_order, sample_indices

INPUT = (64, 48)
CODEC = HeatmapCodec.for_input(INPUT)
# No augmentation: a training crop is then byte-identical to the validation crop of its sample.
PLAIN = dict(rotation=0.0, scale_range=(1.0, 1.0), flip=False, half_body_prob=0.0)


@pytest.fixture(scope="module")
def coco_train(coco_sample: Path):
    return load_coco(coco_sample / "train.json")  # 225 persons, listed by image id


def _images(ds, batches: int) -> list[np.ndarray]:
    return [b[0].numpy() for b in ds.take(batches)]


def _visited(dataset, batch: int, batches: int, **kw) -> np.ndarray:
    """Sample indices a training pipeline visits, recovered from its crops."""
    val = build_dataset(dataset, batch_size=len(dataset), codec=CODEC, training=False,
                        encode_targets=False, image_dtype=tf.uint8)  # fmt: skip
    index = {crop.tobytes(): i for i, crop in enumerate(next(iter(val))[0].numpy())}
    assert len(index) == len(dataset)
    ds = build_dataset(dataset, batch_size=batch, codec=CODEC, encode_targets=False,
                       image_dtype=tf.uint8, **PLAIN, **kw)  # fmt: skip
    return np.array([index[c.tobytes()] for b in _images(ds, batches) for c in b])


def test_every_pass_is_a_fresh_permutation_of_the_whole_set(coco_train):
    n = len(coco_train)
    seen = _visited(coco_train, batch=25, batches=2 * n // 25, seed=7)
    first, second = seen[:n], seen[n:]
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, epoch_order(n, 7, 0))
    np.testing.assert_array_equal(second, epoch_order(n, 7, 1))
    # The samples are sorted by image id; the first batch spans the set, not a window of it.
    batch = np.sort(first[:25])
    assert batch[-1] - batch[0] > n // 2
    assert np.sum(np.diff(batch) == 1) < 12
    ids = np.array([coco_train[i].image_id for i in first[:25]])
    all_ids = sorted({s.image_id for s in coco_train.samples})
    assert len(set(ids)) > 12 and ids.max() - ids.min() > (all_ids[-1] - all_ids[0]) / 2


def test_order_depends_on_seed_and_pass_only():
    n = 150_000  # COCO's size: a window of a shuffle buffer would show in the first batch
    a = epoch_order(n, 0, 0)
    np.testing.assert_array_equal(a, epoch_order(n, 0, 0))
    assert not np.array_equal(a, epoch_order(n, 1, 0))
    assert not np.array_equal(a, epoch_order(n, 0, 1))
    assert len(np.unique(a)) == n
    assert np.ptp(a[:256]) > 0.9 * n
    # Position p of the stream is entry p % n of pass p // n's permutation, from any start.
    positions = tf.constant([3 * n + 5, 17, n + 2], tf.int64)
    np.testing.assert_array_equal(sample_indices(positions, n, 0).numpy(),
                                  [epoch_order(n, 0, 3)[5], a[17], epoch_order(n, 0, 1)[2]])


def test_shards_split_one_permutation(coco_train):
    n = len(coco_train)
    shards = [_visited(coco_train, batch=9, batches=5, seed=3, num_shards=2, shard_index=i)
              for i in (0, 1)]  # fmt: skip
    order = epoch_order(n, 3, 0)
    np.testing.assert_array_equal(shards[0], order[0:90:2])
    np.testing.assert_array_equal(shards[1], order[1:90:2])


def test_resume_start_continues_the_same_augmented_stream(coco_train):
    kw = dict(codec=CODEC, seed=5, encode_targets=False, image_dtype=tf.uint8)
    whole = np.concatenate(_images(build_dataset(coco_train, batch_size=10, **kw), 8))
    resumed = np.concatenate(_images(build_dataset(coco_train, batch_size=10, start=30, **kw), 5))
    np.testing.assert_array_equal(resumed, whole[30:80])
    other = np.concatenate(_images(build_dataset(coco_train, batch_size=10, **kw | {"seed": 6}), 1))
    assert not np.array_equal(other, whole[:10])
