"""The run's codec is the one carrier of crop padding and target sigma, from the config to the
device: training validates with it, writes it into final.keras, and evaluation, calibration,
export and the edge runtime read it back from the file. A run with ``codec.padding: 1.3`` and
a non-default sigma must be cropped at 1.3 everywhere (before the codec section existed,
validation and ``danet-eval`` cropped at 1.25 whatever the run had trained at)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from danet_tf.config import ConfigError, load_config
from tests.harness import REPO

DEMO = REPO / "configs" / "danet_tiny_synthetic-128x96.yaml"
PADDING, SIGMA = 1.3, 1.7
LEVELS = {"heatmaps_s32": 2.6, "heatmaps_s16": 2.2, "heatmaps_s8": 2.0, "heatmaps": SIGMA}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A two-step danet_tiny run at 64x64 with padding 1.3 and finest sigma 1.7, and the
    paddings its validation cropped with (spied on the protocol's region function)."""
    from danet_tf.training import train

    tmp = tmp_path_factory.mktemp("carrier")
    cfg = load_config(DEMO, {
        "model.input_size": "64x64", "runtime.workdir": str(tmp / "run"), "runtime.verbose": 0,
        "data.synthetic_dir": str(tmp / "synthetic"), "data.synthetic_train_images": 8,
        "data.synthetic_val_images": 2, "train.epochs": 1, "train.steps_per_epoch": 2,
        "train.global_batch_size": 4, "train.val_samples": 4, "train.overlay_samples": 0,
        "codec.padding": PADDING, "codec.level_sigmas": LEVELS,
    })  # fmt: skip
    with _paddings() as seen:
        result = train(cfg)
    return result.final_model, seen


@contextlib.contextmanager
def _paddings():
    """The crop paddings of the person regions evaluation computes, in order."""
    import danet_edge.protocol as protocol

    seen: list[float] = []
    original = protocol.box_to_center_scale

    def spy(box, aspect, padding):
        seen.append(padding)
        return original(box, aspect, padding)

    protocol.box_to_center_scale = spy
    try:
        yield seen
    finally:
        protocol.box_to_center_scale = original


def test_the_config_section_builds_the_codec():
    from danet_tf.config import build_codec

    cfg = load_config(None, {"codec.padding": 1.3, "codec.decode_mode": "dark",
                             "codec.flip_test": False, "model.input_size": "128x96"})  # fmt: skip
    codec = build_codec(cfg)
    assert (codec.padding, codec.decode_mode, codec.flip_test) == (1.3, "dark", False)
    assert codec.input_size == (128, 96) and codec.heatmap_size == (32, 24)
    assert build_codec(load_config(None, {})).padding == 1.25  # the codec's own default
    with pytest.raises(ConfigError, match="codec.padding: expected >= 1.0, got 0.9"):
        load_config(None, {"codec.padding": 0.9})
    with pytest.raises(ConfigError, match="codec: blur_kernel must be a positive odd integer"):
        load_config(None, {"codec.blur_kernel": 4})
    with pytest.raises(ConfigError, match="unknown levels \\['heatmaps_s2'\\]"):
        build_codec(load_config(None, {"codec.level_sigmas": {"heatmaps_s2": 1.0}}),
                    ("heatmaps_s8", "heatmaps"))  # fmt: skip


def test_validation_and_final_model_carry_the_run_codec(run):
    from danet_tf.export.api import recorded_codec

    final, seen = run
    assert seen and set(seen) == {PADDING}, seen  # validation cropped as the run trained
    codec = recorded_codec(final)
    assert codec.padding == PADDING and codec.sigma == SIGMA
    assert codec.level_sigmas == LEVELS


def test_evaluation_calibration_and_the_edge_use_the_recorded_padding(run, coco_sample, tmp_path):
    from danet_edge.topdown import TopDownPredictor
    from danet_tf.data.augment import TopDownTransform
    from danet_tf.evaluation import evaluate_topdown, load_eval_model
    from danet_tf.export.api import export_model, model_codec
    from danet_tools.sources import crops_for, load_source_model, model_file

    final, _ = run
    m = load_eval_model(str(final), None)  # --model run/final.keras, as users pass it
    assert m.codec.padding == PADDING and m.codec.sigma == SIGMA
    with _paddings() as seen:
        evaluate_topdown(m.predict_fn, coco_sample / "val4.json", codec=m.codec,
                         num_keypoints=m.num_keypoints, progress=False)  # fmt: skip
    assert seen and set(seen) == {PADDING}

    model = load_source_model(str(final))
    codec = model_codec(model, model_file(str(final), None))
    assert codec == m.codec
    paddings: list[float] = []
    init = TopDownTransform.__init__

    def record(self, info, codec, *a, **k):
        paddings.append(codec.padding)
        init(self, info, codec, *a, **k)

    TopDownTransform.__init__ = record
    try:
        crops = crops_for(codec, coco_sample / "train.json", coco_sample / "images", count=6)
    finally:
        TopDownTransform.__init__ = init
    assert paddings == [PADDING] and crops.images.shape[1:3] == (64, 64)

    out = tmp_path / "carrier.tflite"
    export_model(model, out, "tflite", crops, weights_path=final, model_name="danet_tiny")
    edge = TopDownPredictor.from_file(str(out))
    assert edge.codec.padding == PADDING and edge.codec.sigma == SIGMA
    center, scale = edge.region(np.array([10.0, 20.0, 40.0, 80.0]))
    np.testing.assert_allclose(scale, np.array([80.0, 80.0]) * PADDING)
