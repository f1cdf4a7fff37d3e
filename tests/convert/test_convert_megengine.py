"""The authors' MegEngine checkpoints convert to Keras models that compute what theirs did.

The reference folder holds two checkpoints with random (non-trivial) weights written by
MegEngine for the authors' model file, and that model's own outputs on real COCO crops
(``*_io.npz``: ``crops_bgr``, ``heatmaps`` and ``levels``, the four outputs of
``model(x)`` coarse to fine, laid out (level, image, h, w, K)).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from danet_tf.convert import (
    CheckpointMismatchError,
    UnsafeCheckpointError,
    convert_checkpoint,
    from_megengine,
    infer_architecture,
    read_state_dict,
)
from danet_tf.models import LEVELS, count_complexity, read_source

TOLERANCE = 1e-4  # max abs, heatmaps peak near 1


def _reference(root: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(root / f"{name}_io.npz") as data:
        return {k: data[k] for k in data.files}


def _rgb(ref) -> np.ndarray:
    return np.ascontiguousarray(ref["crops_bgr"][..., ::-1]).astype(np.float32)


def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.fixture(scope="module")
def danet72_levels(megengine_reference):
    return from_megengine(megengine_reference / "danet72.pkl", multi_scale=True)


@pytest.mark.parametrize("name", ["tiny", "danet72"])
def test_converted_model_gives_the_authors_heatmaps(megengine_reference, danet72_levels, name):
    ref = _reference(megengine_reference, name)
    if name == "danet72":
        model = danet72_levels
    else:
        model = from_megengine(megengine_reference / f"{name}.pkl", multi_scale=True)
    out = model(_rgb(ref), training=False)
    assert ref["levels"].shape[0] == len(LEVELS)
    for i, level in enumerate(LEVELS):
        assert _max_diff(out[level], ref["levels"][i]) < TOLERANCE, level
    assert _max_diff(out["heatmaps"], ref["heatmaps"]) < TOLERANCE
    # The noise image and the persons differ, so matching is not a constant-output accident.
    assert np.abs(ref["heatmaps"][0] - ref["heatmaps"][3]).max() > 0.05


def test_single_output_model_and_inferred_names(megengine_reference):
    ref = _reference(megengine_reference, "tiny")
    model = from_megengine(megengine_reference / "tiny.pkl")
    assert model.input_shape == (None, 256, 192, 3) and model.output_shape == (None, 64, 48, 17)
    assert _max_diff(model(_rgb(ref), training=False), ref["heatmaps"]) < TOLERANCE
    tiny = infer_architecture(read_state_dict(megengine_reference / "tiny.pkl"))
    assert (tiny.name, tiny.spec.blocks, tiny.spec.widths) == (None, (1, 2, 2, 1), (32, 48, 64, 96))
    assert tiny.spec.decoder_channels == 32 and tiny.num_keypoints == 17
    big = infer_architecture(read_state_dict(megengine_reference / "danet72.pkl"))
    assert big.name == "danet72_authors"


def test_authors_parameter_count_is_the_checkpoints(megengine_reference, danet72_levels):
    state = read_state_dict(megengine_reference / "danet72.pkl")
    trainable = sum(v.size for k, v in state.items() if "running_" not in k)
    assert count_complexity(danet72_levels).params == trainable  # 4.007 M as coded


def test_older_megengine_layouts_convert_identically(megengine_reference, tmp_path):
    """BatchNorm (1, C, 1, 1) and depthwise (C, 1, kh, kw), as other versions wrote them."""
    state = read_state_dict(megengine_reference / "tiny.pkl")
    old = {}
    for key, value in state.items():
        if value.ndim == 1:
            value = value.reshape(1, -1, 1, 1)
        elif value.ndim == 5:
            value = value.reshape(value.shape[0], 1, *value.shape[3:])
        old[key] = value
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"epoch": 3, "state_dict": old}))
    ref = _reference(megengine_reference, "tiny")
    model = from_megengine(path)
    assert _max_diff(model(_rgb(ref), training=False), ref["heatmaps"]) < TOLERANCE


def _edited(root: Path, tmp_path: Path, edit) -> Path:
    state = read_state_dict(root / "tiny.pkl")
    edit(state)
    path = tmp_path / "edited.pkl"
    path.write_bytes(pickle.dumps(state))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("sfus.1.att_conv.3.running_var"),
         r"missing tensor 'sfus.1.att_conv.3.running_var' \(expected shape \(32,\)"),
        (lambda s: s.update(extra_head=np.zeros((3,), np.float32)),
         r"1 unexpected tensor\(s\) the model has no place for: extra_head \(3,\)"),
        (lambda s: s.update({"out_convs.3.2.weight": np.zeros((32, 32, 3, 3), np.float32)}),
         r"tensor 'out_convs.3.2.weight' has shape \(32, 32, 3, 3\), the model needs "
         r"\(32, 32, 1, 1\)"),
        (lambda s: s.update({"fp.body_layer.1.1.body_conv.5.weight": np.zeros((16, 32, 3, 3))}),
         r"growth rate differs across layers"),
    ],
    ids=["missing", "unexpected", "misshaped", "non-uniform"],
)  # fmt: skip
def test_bad_tensors_fail_naming_the_tensor(megengine_reference, tmp_path, edit, message):
    path = _edited(megengine_reference, tmp_path, edit)
    out = tmp_path / "out.keras"
    with pytest.raises(CheckpointMismatchError, match=message):
        convert_checkpoint(path, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.pkl"]  # nothing written


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickles_that_would_run_code_are_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"fp.head.0.weight": _Payload(marker)}))
    with pytest.raises(UnsafeCheckpointError, match=r"references (posix|os)\.system"):
        from_megengine(path)
    assert not marker.exists()
    truncated = tmp_path / "cut.pkl"
    truncated.write_bytes(pickle.dumps({"a": np.zeros(100)})[:50])
    with pytest.raises(ValueError, match="cut.pkl: not a readable MegEngine checkpoint"):
        read_state_dict(truncated)
    listed = tmp_path / "list.pkl"
    listed.write_bytes(pickle.dumps([np.zeros(2)]))
    with pytest.raises(ValueError, match="expected a state dict .* got list"):
        read_state_dict(listed)


def test_model_flag_must_agree(megengine_reference, tmp_path):
    with pytest.raises(ValueError, match=r"stage 1 has 3 layers in the checkpoint but 4 in "
                                         r"danet88_authors"):  # fmt: skip
        from_megengine(megengine_reference / "danet72.pkl", model="danet88_authors")
    with pytest.raises(ValueError, match=r"danet72 is not one of the authors' topologies"):
        from_megengine(megengine_reference / "danet72.pkl", model="danet72")
    with pytest.raises(ValueError, match="unknown model 'danet73_authors'"):
        from_megengine(megengine_reference / "danet72.pkl", model="danet73_authors")


def test_cli_writes_a_keras_file_that_reloads_in_a_fresh_process(
    megengine_reference, tmp_path, capsys
):
    from danet_tools.convert_megengine import main

    checkpoint = megengine_reference / "danet72.pkl"
    out = tmp_path / "danet72_authors.keras"
    # The command in this process (its exit status in a fresh one: the mismatch test below);
    # what it wrote is loaded in a fresh process, where nothing this one registered helps.
    assert main([str(checkpoint), "--output", str(out), "--model", "danet72_authors"]) == 0
    assert "model 'danet72_authors'" in capsys.readouterr().out
    source = read_source(out)
    assert source["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert source["file"] == "danet72.pkl" and source["model"] == "danet72_authors"
    check = (
        "import sys, json, numpy as np, tensorflow as tf, danet_tf\n"
        "m = tf.keras.models.load_model(sys.argv[1])\n"
        "ref = np.load(sys.argv[2])\n"
        "x = ref['crops_bgr'][..., ::-1].astype('float32')\n"
        "print(json.dumps([m.output_shape, float(np.abs(m(x) - ref['heatmaps']).max())]))\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", check, str(out), str(megengine_reference / "danet72_io.npz")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    shape, diff = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert shape == [None, 64, 48, 17] and diff < TOLERANCE


def test_cli_reports_a_mismatch_and_writes_nothing(megengine_reference, tmp_path):
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "x.keras"
    run = subprocess.run(
        [sys.executable, str(repo / "tools" / "convert_megengine.py"),
         str(megengine_reference / "tiny.pkl"), "--output", str(out), "--model",
         "danet72_authors"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 2
    assert "conversion FAILED" in run.stderr and "stage 1 has 1 layers" in run.stderr
    assert not out.exists()


def test_bgr_statistics_option_sets_the_models_normalisation(megengine_reference, tmp_path):
    """The other ordering their configs list: the model stores it in RGB order, and an input
    shifted by the difference of means gives the reference outputs again."""
    from danet_tf.models import input_normalization

    alt = (103.53, 123.675, 116.28)  # 255 x (0.406, 0.485, 0.456), B, G, R
    out = tmp_path / "alt.keras"
    result = convert_checkpoint(megengine_reference / "tiny.pkl", out, bgr_mean=alt)
    assert result.source["bgr_mean"] == list(alt)
    model = from_megengine(megengine_reference / "tiny.pkl", bgr_mean=alt)
    mean, _ = input_normalization(model)
    assert mean == pytest.approx(alt[::-1])
    ref = _reference(megengine_reference, "tiny")
    x = _rgb(ref)
    assert _max_diff(model(x, training=False), ref["heatmaps"]) > 1e-3  # the option matters
    shifted = x + (np.asarray(alt[::-1]) - np.asarray((103.53, 116.28, 123.675))).astype("f4")
    assert _max_diff(model(shifted, training=False), ref["heatmaps"]) < TOLERANCE


def test_a_non_finite_weight_is_refused_naming_the_tensor(megengine_reference, tmp_path):
    def poison(state):
        key = next(k for k in state if k.endswith("weight") and state[k].ndim == 4)
        value = np.array(state[key], np.float32)
        value.flat[3] = np.nan
        state[key] = value

    path = _edited(megengine_reference, tmp_path, poison)
    with pytest.raises(ValueError, match=r"1 non-finite value\(s\) in \S+ \["):
        convert_checkpoint(path, tmp_path / "out.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.pkl"]  # nothing written


def test_an_unwritable_output_directory_is_a_clear_error(megengine_reference, tmp_path):
    import os

    if os.geteuid() == 0:
        # root ignores directory permissions: a file where the directory should be fails
        # the same way (mkdir of the scratch space) on every machine.
        blocker = tmp_path / "ro"
        blocker.write_text("")
        out = blocker / "sub" / "x.keras"
    else:
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        out = tmp_path / "ro" / "x.keras"
    with pytest.raises(OSError, match=r"cannot write .*x\.keras: its directory .* is not writable"):
        convert_checkpoint(megengine_reference / "tiny.pkl", out)
    assert not out.exists()
