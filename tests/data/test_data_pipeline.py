"""The tf.data pipeline: shapes, seeds, sharding, distribution, bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from danet_tf.codec import HeatmapCodec
from danet_tf.data import SkipCounter, build_dataset, calibration_crops, load_coco
from danet_tf.data.loader import JPEG_DECODE_FAILED
from tests.data.data_helpers import person, write_coco, write_jpeg

INPUT = (64, 48)
SIGMAS = {"heatmaps_s16": 2.0, "heatmaps": 1.4}
CODEC = HeatmapCodec.for_input(INPUT, level_sigmas=SIGMAS, sigma=SIGMAS["heatmaps"])
PLAIN = HeatmapCodec.for_input(INPUT)


@pytest.fixture(scope="module")
def coco_val(coco_sample: Path):
    return load_coco(coco_sample / "val4.json")


def test_shapes_and_dtypes(coco_val):
    ds = build_dataset(coco_val, batch_size=4, codec=CODEC, seed=0)
    images, targets = next(iter(ds))
    assert images.shape == (4, 64, 48, 3) and images.dtype == tf.float32
    assert set(targets) == {"heatmaps_s16", "heatmaps", "weights", "visible"}
    for level in SIGMAS:
        assert targets[level].shape == (4, 16, 12, 17) and targets[level].dtype == tf.float32
    assert targets["weights"].shape == (4, 17)
    assert 0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255
    # Wider Gaussian at the coarser level: more mass for the same joints.
    assert float(tf.reduce_sum(targets["heatmaps_s16"])) > float(tf.reduce_sum(targets["heatmaps"]))


def test_default_levels_are_the_models(coco_val):
    from danet_tf.models import LEVELS

    ds = build_dataset(coco_val, batch_size=2, codec=PLAIN)
    assert set(ds.element_spec[1]) == {*LEVELS, "weights", "visible"}


def _batches(ds, n: int):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds.take(n)]


def test_seed_reproducible(coco_val):
    make = lambda seed: build_dataset(  # noqa: E731
        coco_val, batch_size=4, codec=CODEC, seed=seed)  # fmt: skip
    a, b, c = _batches(make(3), 4), _batches(make(3), 4), _batches(make(4), 4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1]["heatmaps"], y[1]["heatmaps"])
    assert not all(np.array_equal(x[0], z[0]) for x, z in zip(a, c, strict=True))


def test_validation_mode(coco_val):
    ds = build_dataset(coco_val, batch_size=5, codec=CODEC,
                       training=False, with_keypoints=True)  # fmt: skip
    batches = _batches(ds, 10)
    assert [b[0].shape[0] for b in batches] == [5, 5, 2]  # finite, remainder kept
    images = np.concatenate([b[0] for b in batches])
    crops, kpts = calibration_crops(coco_val, PLAIN, count=12, min_keypoints=0)
    # File order, no augmentation: the same crops the calibration helper makes.
    np.testing.assert_array_equal(images, crops)
    np.testing.assert_allclose(np.concatenate([b[2] for b in batches]), kpts)
    assert batches[0][2].shape == (5, 17, 3)
    # Targets are the codec's encoding of those keypoints.
    codec = HeatmapCodec(INPUT, (16, 12), SIGMAS["heatmaps"])
    for i, kp in enumerate(batches[0][2]):
        hm, wt = codec.encode(kp)
        np.testing.assert_allclose(batches[0][1]["heatmaps"][i], hm, atol=2e-6)
        np.testing.assert_array_equal(batches[0][1]["weights"][i], wt)


def test_shards_split_the_samples(coco_val):
    sizes = []
    for shard in (0, 1):
        ds = build_dataset(coco_val, batch_size=1, codec=CODEC,
                           training=False, num_shards=2, shard_index=shard)  # fmt: skip
        sizes.append(sum(1 for _ in ds))
    assert sizes == [6, 6]


def test_distribute_strategy(coco_val):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ds = build_dataset(coco_val, batch_size=4, codec=CODEC)
    images, targets = next(iter(strategy.experimental_distribute_dataset(ds)))
    assert images.shape == (4, 64, 48, 3) and targets["weights"].shape == (4, 17)


def _bad_files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    write_jpeg(tmp_path / "good.jpg")
    data = write_jpeg(tmp_path / "trunc.jpg")
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "corrupt.jpg").write_bytes(rng.integers(0, 255, 3000, dtype=np.uint8).tobytes())
    cv2.imwrite(str(tmp_path / "gray.png"), rng.integers(0, 255, (120, 100), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "rgba.png"), rng.integers(0, 255, (120, 100, 4), dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "deep.png"), rng.integers(0, 65535, (120, 100, 3), dtype=np.uint16))
    # A JPEG whose header reads fine but whose Huffman table libjpeg rejects: it fails only
    # inside TensorFlow's decoder, after the Python checks.
    data = bytearray(write_jpeg(tmp_path / "bad_table.jpg"))
    data[data.find(b"\xff\xc4") + 4] = 0x55
    (tmp_path / "bad_table.jpg").write_bytes(bytes(data))
    names = ["good.jpg", "trunc.jpg", "empty.jpg", "corrupt.jpg", "missing.jpg", "gray.png",
             "bad_table.jpg", "rgba.png", "deep.png", "good.jpg"]  # fmt: skip
    # No width/height in the json: the last box reaches outside the image, clipped at crop time.
    images = [{"id": i + 1, "file_name": n} for i, n in enumerate(names)]
    anns = [person(i + 1, i + 1, [10, 10, 60, 90]) for i in range(len(names) - 1)]
    anns.append(person(len(names), len(names), [-50, 50, 120, 200]))
    return write_coco(tmp_path / "bad.json", images, anns)


def test_bad_files_are_skipped_and_counted(tmp_path: Path):
    ds = load_coco(_bad_files(tmp_path), tmp_path)
    counter = SkipCounter()
    pipe = build_dataset(ds, batch_size=1, codec=CODEC,
                         training=False, skip_counter=counter)  # fmt: skip
    out = _batches(pipe, 20)
    assert len(out) == 5  # good, gray, rgba, 16-bit, clipped box
    for images, _ in out:
        assert images.shape == (1, 64, 48, 3) and images.dtype == np.float32
    assert counter.total == 5 and pipe.skip_counter is counter
    reasons = counter.by_reason
    assert reasons == {"truncated JPEG (no end-of-image marker)": 1, "empty file": 1,
                       "not a decodable image": 1, "missing file": 1,
                       JPEG_DECODE_FAILED: 1}  # fmt: skip
    assert set(Path(p).name for p in counter.bad_files) == {
        "trunc.jpg", "empty.jpg", "corrupt.jpg", "missing.jpg", "bad_table.jpg"}  # fmt: skip


def test_bad_files_do_not_stop_training(tmp_path: Path):
    ds = load_coco(_bad_files(tmp_path), tmp_path)
    pipe = build_dataset(ds, batch_size=4, codec=CODEC, seed=1)
    batches = _batches(pipe, 6)  # endless: keeps going past the bad samples epoch after epoch
    assert len(batches) == 6 and all(b[0].shape[0] == 4 for b in batches)
    assert pipe.skip_counter.total >= 10


def test_keypoint_targets(coco_val):
    from danet_tf.data.targets import encode_heatmaps

    kw = dict(batch_size=4, codec=CODEC, seed=2)
    plain = next(iter(build_dataset(coco_val, **kw)))
    light = next(iter(build_dataset(coco_val, encode_targets=False, **kw)))
    assert set(light[1]) == {"keypoints", "weights"}
    np.testing.assert_array_equal(light[0].numpy(), plain[0].numpy())
    again = encode_heatmaps(light[1]["keypoints"], CODEC)
    for key in plain[1]:
        np.testing.assert_array_equal(again[key].numpy(), plain[1][key].numpy())


def test_all_images_bad_fails_clearly(tmp_path: Path):
    images = [{"id": 1, "file_name": "gone.jpg"}, {"id": 2, "file_name": "gone2.jpg"}]
    anns = [person(1, 1, [10, 10, 60, 90]), person(2, 2, [10, 10, 60, 90])]
    ds = load_coco(write_coco(tmp_path / "a.json", images, anns), tmp_path)
    pipe = build_dataset(ds, batch_size=2, codec=CODEC)
    with pytest.raises(tf.errors.OpError, match="no sample of .* could be loaded"):
        next(iter(pipe))


def test_read_image_orders(tmp_path: Path):
    from danet_tf.data import read_image

    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 2] = 200  # red in OpenCV's BGR
    cv2.imwrite(str(tmp_path / "red.png"), image)
    bgr, _ = read_image(str(tmp_path / "red.png"))
    rgb, _ = read_image(str(tmp_path / "red.png"), rgb=True)
    assert bgr[0, 0].tolist() == [0, 0, 200] and rgb[0, 0].tolist() == [200, 0, 0]
