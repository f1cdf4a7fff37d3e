"""The checks every danet_tf layer and model goes through (keras-hub style), and the few
helpers test files share.

``check_layer`` and ``check_model`` are called by the layer and model tests so no
round trip can be forgotten: config round trip, symbolic and eager call, one
training step, and ``.keras`` save/reload with identical outputs. Test files import this
module as ``tests.harness`` (``tests`` and each of its folders are packages), never another
test file or a ``conftest`` by bare name.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np


def _as_list(x):
    if isinstance(x, dict):
        return [np.asarray(x[k]) for k in sorted(x)]
    if isinstance(x, (list, tuple)):
        return [np.asarray(v) for v in x]
    return [np.asarray(x)]


def _inputs_like(data):
    if isinstance(data, (list, tuple)):
        return [keras.Input(np.shape(d)[1:]) for d in data]
    return keras.Input(np.shape(data)[1:])


def check_config_round_trip(layer: keras.layers.Layer) -> None:
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("danet_tf>")
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def check_training_step(model: keras.Model, data, targets=None, optimizer=None) -> None:
    """One optimizer step changes the weights and gives a finite loss."""
    outputs = model(data)
    if targets is None:
        targets = keras.tree.map_structure(
            lambda o: np.random.default_rng(0).normal(size=o.shape).astype("float32"), outputs
        )
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss="mse")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(data, targets, epochs=1, batch_size=len(_as_list(data)[0]), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [np.array(w) for w in model.trainable_weights]
    changed = sum(not np.allclose(a, b) for a, b in zip(before, after, strict=True))
    assert changed > len(before) // 2, f"only {changed}/{len(before)} weights changed"


def check_save_reload(model: keras.Model, data, tmp_path: Path) -> None:
    expected = _as_list(model(data, training=False))
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)  # safe mode, no custom_objects
    got = _as_list(reloaded(data, training=False))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(e, g)


def check_layer(layer: keras.layers.Layer, data, tmp_path: Path, train: bool = True) -> None:
    """Every check for one custom layer, on input ``data`` (array or list)."""
    check_config_round_trip(layer)
    inputs = _inputs_like(data)
    symbolic = layer(inputs)
    expected_shape = layer.compute_output_shape(
        [tuple(i.shape) for i in inputs] if isinstance(inputs, list) else tuple(inputs.shape)
    )
    assert tuple(symbolic.shape) == tuple(expected_shape)
    model = keras.Model(inputs, symbolic)
    eager = np.asarray(layer(data))
    assert eager.shape[1:] == tuple(symbolic.shape)[1:]
    assert np.all(np.isfinite(eager))
    if train:
        check_training_step(model, data)
    check_save_reload(model, data, tmp_path)


def check_model(
    model: keras.Model, data, tmp_path: Path, train: bool = True, optimizer=None
) -> None:
    """Every check for one model: eager/symbolic agreement, training step, save/reload."""
    eager = _as_list(model(data, training=False))
    default = _as_list(model(data))
    graph = _as_list(model.predict(data, verbose=0))
    for e, d, g in zip(eager, default, graph, strict=True):
        assert np.all(np.isfinite(e))
        np.testing.assert_allclose(d, e, atol=1e-5)  # training=None must mean inference
        np.testing.assert_allclose(g, e, atol=1e-4)
    for layer in model.layers:
        if type(layer).__module__.startswith("danet_tf."):
            check_config_round_trip(layer)
    check_save_reload(model, data, tmp_path)
    if train:
        check_training_step(model, data, optimizer=optimizer)


# -- shared by test files -----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child python: the repo importable, quiet TensorFlow, one thread pool."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def assert_one_xnnpack_partition(path) -> None:
    """XNNPACK takes every op: an op it lacks in int8 (ABS, MINIMUM, a standalone RELU) would
    split the graph into pieces with a builtin kernel between them (docs/deployment.md,
    "Graph rewrites")."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops.count("DELEGATE") == 1, f"{ops.count('DELEGATE')} XNNPACK partitions"


def random_weights_bounds():
    """Verification bounds for quantized exports of a random-weight model: its heatmaps are
    flat, so their argmax moves with any rounding (the defaults hold trained models)."""
    from danet_tf.export.verify import Bounds

    return Bounds(max_heatmap_diff=1.5, mean_keypoint_px=64.0)
