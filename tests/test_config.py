from __future__ import annotations

from pathlib import Path

import pytest

from danet_tf.config import Config, ConfigError, default_workdir, load_config, parse_set_args

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_defaults_are_the_paper_recipe():
    cfg = load_config()
    assert cfg.train.optimizer == "adam"
    assert cfg.train.learning_rate == pytest.approx(3e-4)
    assert cfg.train.end_learning_rate == 0.0
    assert cfg.model.input_size == (256, 192)
    assert cfg.train.ohkm_ratio == 0.5
    assert cfg.train.epochs == 200 and cfg.train.global_batch_size == 256
    assert cfg.train.reference_batch_size == 256 and cfg.train.loss == "authors"


def test_yaml_overrides_only_given_fields(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  name: danet72\ntrain:\n  epochs: 3\n")
    cfg = load_config(path)
    assert (cfg.model.name, cfg.train.epochs) == ("danet72", 3)
    assert cfg.train.global_batch_size == Config().train.global_batch_size


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("train:\n  epoch: 3\n", "train.epoch"),
        ("trian:\n  epochs: 3\n", "trian.epochs"),
        ("train:\n  epochs: three\n", "'three'"),
        ("train:\n  epochs: 0\n", "train.epochs: expected >= 1, got 0"),
        ("train:\n  learning_rate: fast\n", "train.learning_rate"),
        ("runtime:\n  strategy: tpu\n", "runtime.strategy"),
        ("model:\n  input_size: [250, 192]\n", "250x192"),
        ("model:\n  input_size: [256]\n", "model.input_size"),
        ("runtime:\n  mixed_precision: maybe\n", "'maybe'"),
        ("train: 3\n", "'train'"),
    ],
)
def test_bad_yaml_names_field_and_value(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(path)
    assert needle in str(err.value)


def test_cli_overrides_are_typed():
    over = parse_set_args(["train.epochs=7", "model.input_size=128x96", "data.flip=false",
                           "train.clipnorm=null", "train.level_weights=[0.5, 1, 1, 2]"])
    cfg = load_config(None, over | {"runtime.seed": "3"})
    assert cfg.train.epochs == 7 and cfg.runtime.seed == 3
    assert cfg.model.input_size == (128, 96)
    assert cfg.data.flip is False and cfg.train.clipnorm is None
    assert cfg.train.level_weights == (0.5, 1.0, 1.0, 2.0)


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"train.global_batch_size": "-1"}, "train.global_batch_size: expected >= 1, got -1"),
        ({"train.lr_scaling": "cubic"}, "train.lr_scaling: expected one of"),
        ({"data.half_body_upper_prob": 2}, "data.half_body_upper_prob: expected <= 1.0"),
        ({"train.nope": 1}, "train.nope"),
        ({"data.annotations": "a.json"}, "data.images"),
        ({"data.scale_range": "1.3,0.7"}, "data.scale_range"),
        ({"train.end_learning_rate": 1.0}, "train.end_learning_rate"),
    ],
)
def test_bad_overrides(over, needle):
    with pytest.raises(ConfigError) as err:
        load_config(None, over)
    assert needle in str(err.value)


def test_set_needs_equals():
    with pytest.raises(ConfigError, match="train.epochs"):
        parse_set_args(["train.epochs"])


def test_save_roundtrip(tmp_path):
    cfg = load_config(None, {"model.input_size": "128x96", "train.epochs": 2})
    cfg.save(tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.model.name
    stem = path.stem
    h, w = cfg.model.input_size
    assert stem.endswith(f"-{h}x{w}"), f"{path.name}: name must end with -{h}x{w}"
    assert stem.startswith(cfg.model.name), f"{path.name}: name must start with {cfg.model.name}"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", ".nan", "1e999"])
@pytest.mark.parametrize("key", ["train.learning_rate", "train.target_scale",
                                 "train.clipnorm", "data.rotation"])
def test_non_finite_numbers_are_rejected_naming_the_field(key, value):
    with pytest.raises(ConfigError) as err:
        load_config(None, parse_set_args([f"{key}={value}"]))
    assert f"{key}: expected a finite number" in str(err.value)


def test_non_finite_inside_lists_and_mappings_is_rejected():
    with pytest.raises(ConfigError, match=r"train.level_weights\[1\]: expected a finite number"):
        load_config(None, {"train.level_weights": [1, "nan", 1, 1]})
    with pytest.raises(ConfigError, match="codec.level_sigmas.heatmaps: expected a finite"):
        load_config(None, {"codec.level_sigmas": {"heatmaps": float("inf")}})


def test_default_work_dir_names_model_dataset_and_input_size():
    demo = CONFIGS[0].parent / "danet_tiny_synthetic-128x96.yaml"
    assert default_workdir(load_config(demo)) == Path("work_dirs/danet_tiny_synthetic-128x96")
    # --model NAME without --data: that model on the synthetic data, in its own directory.
    other = load_config(demo, {"model.name": "danet88"})
    assert default_workdir(other) == Path("work_dirs/danet88_synthetic-128x96")
    coco = load_config(CONFIGS[0].parent / "danet72_coco-256x192.yaml",
                       {"model.input_size": "384x288"})
    assert default_workdir(coco) == Path("work_dirs/danet72_coco-384x288")
    mine = load_config(None, {"data.annotations": "/x/lsp train.json", "data.images": "/x"})
    assert default_workdir(mine) == Path("work_dirs/danet_tiny_lsp_train-256x192")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_leave_the_work_dir_to_the_run(path):
    cfg = load_config(path)
    assert cfg.runtime.workdir is None
    assert default_workdir(cfg).name == path.stem


def test_malformed_yaml_names_the_file(tmp_path):
    from danet_tf.config import ConfigError, load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  name: [danet72\n")
    with pytest.raises(ConfigError, match=r"bad.yaml is not valid YAML"):
        load_config(bad)
