"""The TensorFlow-free trainer (danet_tf.portable, tools/train_portable.py): a crop pack cut
from real persons, numpy augmentation with the shared codec, Keras 3 under JAX with
TensorFlow unimportable, a wall-clock deadline, float16 weights that load back here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from danet_edge.codec import HeatmapCodec
from tests.harness import REPO

BLOCK_TF = textwrap.dedent("""
    import importlib.abc, sys
    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("tensorflow", "tf_keras", "tensorflow_model_optimization"):
                raise ImportError(name + " is blocked: the portable trainer runs without it")
    sys.meta_path.insert(0, _Block())
""")


@pytest.fixture(scope="module")
def pack_file(lspet, tmp_path_factory):
    from danet_tf import portable

    root = tmp_path_factory.mktemp("pack")
    pack = portable.make_pack(lspet / "train_coco17.json", lspet / "images", (128, 96), limit=24)
    pack.save(root / "pack.npz")
    return root / "pack.npz"


def test_pack_round_trip_keeps_crops_and_keypoints(pack_file):
    from danet_tf import portable

    pack = portable.Pack.load(pack_file)
    assert len(pack) == 24 and pack.size == (128, 96)
    image = pack.image(0)
    assert image.shape == (128, 96, 3) and image.dtype == np.uint8
    visible = pack.keypoints[:, :, 2] > 0
    xy = pack.keypoints[..., :2][visible]
    # the person box, padded 1.6x, fills the crop: labelled joints lie well inside it
    assert (xy[:, 0] > 0).all() and (xy[:, 0] < 96).all() and (xy[:, 1] > 0).all()
    assert sum(len(b) for b in pack.blobs) / len(pack) < 8000  # WebP q70 at 128x96


def test_augmented_targets_peak_at_the_augmented_joints(pack_file):
    from danet_tf import portable

    aug = portable.Augmenter(portable.Pack.load(pack_file), HeatmapCodec.for_input((128, 96)), seed=3)
    for i in range(6):
        crop, targets, weights = aug.sample(i)
        assert crop.shape == (128, 96, 3)
        fine = targets["heatmaps"]
        assert fine.shape == (32, 24, 17)
        for j in np.flatnonzero(weights):
            y, x = np.unravel_index(np.argmax(fine[..., j]), fine.shape[:2])
            assert fine[y, x, j] > 0.5  # a whole Gaussian inside the crop
        assert np.all(fine[..., weights == 0] == 0)


def test_trains_under_jax_without_tensorflow_and_loads_back(pack_file, tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "w.npz"
    code = BLOCK_TF + textwrap.dedent(f"""
        from danet_tf import portable
        rec = portable.train({str(pack_file)!r}, {str(out)!r}, model_name="danet_tiny",
                             input_size=(128, 96), batch=4, minutes=5, max_steps=4)
        assert "tensorflow" not in sys.modules, "tensorflow was imported"
        print(rec["backend"], rec["steps"])
    """)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["jax", "4"]
    record = json.loads(Path(str(out) + ".json").read_text())
    assert record["samples"] == 16 and record["target_scale"] == 255.0

    import danet_tf
    from danet_tf import portable

    keras_file = portable.to_keras(out, tmp_path / "w.keras")
    model = danet_tf.load_model(keras_file)
    with np.load(out) as z:
        stored = {k.replace("|", "/"): z[k] for k in z.files}
    fresh = danet_tf.build_model("danet_tiny", input_shape=(128, 96, 3))
    trained = {w.path: w.numpy() for w in model.weights}
    assert all(np.array_equal(trained[k], v.astype(np.float32)) for k, v in stored.items()
               if k in trained)
    assert any(not np.array_equal(trained[w.path], w.numpy()) for w in fresh.weights)
    heatmaps = model(np.zeros((1, 128, 96, 3), np.float32))
    assert heatmaps.shape == (1, 32, 24, 17) and np.isfinite(heatmaps).all()


def test_deadline_stops_training():
    keras = pytest.importorskip("keras")
    from danet_tf.portable import Deadline

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    stop = Deadline(0.0)
    model.fit(np.zeros((64, 2)), np.zeros((64, 1)), batch_size=8, epochs=5, callbacks=[stop],
              verbose=0)
    assert stop.steps == 1
