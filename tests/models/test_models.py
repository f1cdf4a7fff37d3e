import json
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import danet_tf
from danet_tf.models import LEVELS, SPECS, get_spec, inference_model, to_functional
from tests.harness import check_model

SMALL = (64, 64, 3)


def _image(shape=SMALL, n=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, *shape)).astype("float32")


def test_registry_lists_every_paper_row():
    names = danet_tf.list_models()
    for name in ("danet72", "danet88", "danet98", "danet102", "danet_tiny"):
        assert name in names
    ablations = [n for n in names if SPECS[n].description.startswith("Table")]
    assert len(ablations) >= 15  # Tables IV, V, VI, VII and X


def test_paper_table_one_rows():
    assert get_spec("danet72").blocks == (3, 6, 12, 12)
    assert get_spec("danet88").widths == (128, 192, 512, 640)
    assert get_spec("danet102").blocks == (6, 12, 16, 14)
    base = get_spec("danet102_baseline1")
    assert (base.use_cau, base.spatial, base.fusion) == (False, "none", "sum")
    assert get_spec("danet102_baseline2").growth_rate == 64


def test_tiny_model_harness(tmp_path):
    model = danet_tf.build_model("danet_tiny", input_shape=SMALL, num_keypoints=5)
    assert model.input.name.startswith("image")
    assert model.output.shape == (None, 16, 16, 5)
    check_model(model, _image(), tmp_path)


def test_multi_scale_outputs_share_layers_with_inference_model(tmp_path):
    model = danet_tf.build_model("danet_tiny", input_shape=(64, 96, 3), multi_scale=True)
    assert sorted(model.output) == sorted(LEVELS)
    for level in LEVELS:
        assert model.output[level].shape == (None, 16, 24, 17)
    check_model(model, _image((64, 96, 3)), tmp_path)
    single = inference_model(model)
    x = _image((64, 96, 3))
    np.testing.assert_array_equal(
        np.asarray(single(x)), np.asarray(model(x, training=False)["heatmaps"])
    )
    assert single.count_params() < model.count_params()


def test_mixed_precision_keeps_float32_heatmaps(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = danet_tf.build_model("danet_tiny", input_shape=SMALL, multi_scale=True)
        out = model(_image())
        assert all(v.dtype == "float32" for v in out.values())
        assert model.get_layer("stage1_oab").compute_dtype == "float16"
        # A small initial loss scale: the default (2**15) skips the first steps on
        # overflow, which is correct behaviour but leaves the weights unchanged.
        optimizer = keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam(1e-2), initial_scale=64.0
        )
        check_model(model, _image(), tmp_path, optimizer=optimizer)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_overrides_and_bad_arguments():
    model = danet_tf.build_model("danet72", input_shape=SMALL, blocks=(1, 1, 1, 1))
    assert model.get_layer("stage4_oab").num_layers == 1
    with pytest.raises(ValueError, match="unknown model 'danet73'"):
        danet_tf.build_model("danet73")
    with pytest.raises(ValueError, match=r"unknown model override\(s\) \['depth'\]"):
        danet_tf.build_model("danet72", depth=3)
    with pytest.raises(ValueError, match="multiples of 32, got 64x48"):
        danet_tf.build_model("danet_tiny", input_shape=(64, 48, 3))
    with pytest.raises(ValueError, match="fusion='concat'"):
        danet_tf.build_model("danet_tiny", fusion="concat")
    with pytest.raises(ValueError, match="num_keypoints must be positive, got 0"):
        danet_tf.build_model("danet_tiny", input_shape=SMALL, num_keypoints=0)


@pytest.mark.parametrize("name", ["danet_tiny", "danet72_authors"])
def test_flat_rebuild_matches_in_keras_and_tf_keras(name):
    tf_keras = pytest.importorskip("tf_keras")
    model = danet_tf.build_model(name, input_shape=SMALL, multi_scale=True, blocks=(1, 1, 1, 1))
    x = _image()
    expected = model(x, training=False)
    for K in (keras, tf_keras):
        flat = to_functional(model, K)
        assert not any(type(lay).__module__.startswith("danet_tf") for lay in flat.layers)
        got = flat(x, training=False)
        for level in LEVELS:
            np.testing.assert_allclose(np.asarray(got[level]), expected[level], atol=1e-5)


WORKER = Path(__file__).with_name("variant_worker.py")


def _run_workers(mode: str, root: Path, names: list[str]) -> dict:
    """Run the variant worker on two processes (two cores), merge their reports."""
    halves = [names[0::2], names[1::2]]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, str(root), *half],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for half in halves
    ]
    report = {}
    for proc in procs:
        out, err = proc.communicate(timeout=1200)
        assert proc.returncode == 0, err[-3000:]
        report.update(json.loads(out.split("REPORT", 1)[1]))
    return report


@pytest.mark.parametrize("name", danet_tf.list_models())
def test_every_registered_row_passes_the_harness(name, tmp_path):
    """Every row of the spec table, with one layer per stage at 64x64, through the model
    harness (eager, symbolic and predict agree; every layer's config round-trips; .keras
    save/reload gives identical outputs): a new row is tested with no new test code. The
    one training step per model is the tiny model's (test_tiny_model_harness)."""
    spec = get_spec(name)
    model = danet_tf.build_model(name, input_shape=SMALL, blocks=(1,) * len(spec.blocks))
    out = model(_image(), training=False)
    if spec.task == "classification":
        assert out.shape == (2, 1000)
        np.testing.assert_allclose(np.sum(out, -1), 1.0, rtol=1e-4)
    else:
        assert out.shape == (2, 16, 16, 17)
    check_model(model, _image(), tmp_path, train=False)
    keras.backend.clear_session()


FRESH = ["danet_tiny", "danet72_authors", "resnet18_pyramid_sfu", "densenet169"]


def test_saved_rows_reload_identically_in_a_fresh_process(tmp_path):
    """The process boundary is the point: a fresh interpreter that only imports danet_tf
    (which registers the layers) loads each saved file to the same outputs."""
    np.save(tmp_path / "input.npy", _image())
    shapes = _run_workers("save", tmp_path, FRESH)
    assert set(shapes) == set(FRESH)
    report = _run_workers("load", tmp_path, FRESH)
    assert set(report) == set(FRESH)
    assert all(diff == 0.0 for diff in report.values()), report


def test_load_model_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        danet_tf.load_model(tmp_path / "missing.keras")
    model = danet_tf.build_model("danet_tiny", input_shape=SMALL)
    good = tmp_path / "good.keras"
    model.save(good)
    assert danet_tf.load_model(good).count_params() == model.count_params()
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        danet_tf.load_model(truncated)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="not_pose")
    other_path = tmp_path / "other.keras"
    other.save(other_path)
    with pytest.raises(ValueError, match="not a danet_tf model"):
        danet_tf.load_model(other_path)
    partial = tmp_path / "partial.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(partial, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
    with pytest.raises(ValueError, match=r"missing \['model.weights.h5'\]"):
        danet_tf.load_model(partial)
    weights = tmp_path / "m.weights.h5"
    model.save_weights(weights)
    with pytest.raises(ValueError, match="is not a .keras file"):
        danet_tf.load_model(weights)


def test_authors_topology_harness(tmp_path):
    """The authors' fields (biases, symmetric padding, 2x2 pooling, their statistics) on the
    shared harness: eager == predict, save/reload, a training step."""
    model = danet_tf.build_model(
        "danet72_authors", input_shape=SMALL, blocks=(1, 1, 1, 1), multi_scale=True
    )
    assert model.get_layer("stem_conv1").use_bias and model.get_layer("stage1_transition").use_bias
    assert model.get_layer("pool2").pool_size == (2, 2)
    mean, std = danet_tf.models.input_normalization(model)
    assert mean == pytest.approx((103.53, 116.28, 123.675)) and std[0] == pytest.approx(57.375)
    check_model(model, _image(), tmp_path)
    authors = [n for n in danet_tf.list_models() if n.endswith("_authors")]
    assert authors == ["danet72_authors", "danet88_authors", "danet98_authors", "danet102_authors"]


def test_symmetric_padding_is_pytorchs():
    """A 7x7/2 convolution of two impulses. PyTorch pads 3 on every side, so output (0, 0)
    sees input (0, 0) through kernel tap 3 and output (31, 31) sees (63, 63) through tap 4;
    TF's "same" pads 2 before and 3 after: taps 2 and 3."""
    x = np.zeros((1, 64, 64, 3), np.float32)
    x[0, 0, 0] = x[0, -1, -1] = 1.0
    kernel = np.arange(49, dtype=np.float32).reshape(7, 7, 1, 1).repeat(3, axis=2) / 3
    for padding, taps in (("symmetric", (3, 4)), ("same", (2, 3))):
        layer = danet_tf.layers.PreActConv(1, 7, 2, padding=padding)
        layer.build(x.shape)
        layer.norm.set_weights([np.ones(3), np.zeros(3), np.zeros(3), np.ones(3) - 1e-5])
        layer.conv.set_weights([kernel])
        out = np.asarray(layer(x))[0, ..., 0]
        assert out.shape == (32, 32)
        np.testing.assert_allclose([out[0, 0], out[-1, -1]], [8 * t for t in taps], rtol=1e-4)


def test_authors_fields_are_validated():
    with pytest.raises(ValueError, match="padding='symmetric' needs pool_size=2"):
        get_spec("danet72").replace(padding="symmetric")
    with pytest.raises(ValueError, match="pool_size must be 2 or 3, got 4"):
        get_spec("danet72").replace(pool_size=4)
    with pytest.raises(ValueError, match="got backbone='resnet'"):
        get_spec("resnet18_pyramid_sum").replace(conv_bias=True)
    with pytest.raises(ValueError, match=r"input_mean \(1.0, 2.0\)"):
        get_spec("danet72").replace(input_mean=(1, 2))
