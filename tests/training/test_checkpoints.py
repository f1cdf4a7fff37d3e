"""Checkpoint selection and restore (`danet_tf.training.checkpoints`) on a tiny checkpoint:
which step a damaged work directory resumes from, what is moved aside, what the pointer says,
and the errors when nothing restores. The end-to-end resume through ``tools/train.py`` after
such damage is `tests/training/test_resilience.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf

from danet_tf.training.checkpoints import (
    CheckpointError,
    checkpoint_steps,
    pointer_problem,
    select_and_restore,
)

STEPS = (2, 4, 6, 8)


def _state():
    weights = tf.Variable(tf.zeros((3, 4)), name="w")
    step = tf.Variable(0, dtype=tf.int64, name="step")
    return tf.train.Checkpoint(weights=weights, step=step), weights, step


@pytest.fixture
def ckpt_dir(tmp_path: Path) -> Path:
    """Checkpoints ckpt-2 .. ckpt-8 whose weights equal their step."""
    ckpt, weights, step = _state()
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=10)
    for s in STEPS:
        weights.assign(tf.fill((3, 4), float(s)))
        step.assign(s)
        manager.save(checkpoint_number=s)
    return tmp_path


def _restore(ckpt_dir: Path, move: bool = True):
    ckpt, weights, step = _state()
    return select_and_restore(ckpt, ckpt_dir, move_damaged=move), weights, step


def test_an_intact_directory_restores_the_newest(ckpt_dir):
    selection, weights, step = _restore(ckpt_dir)
    assert selection.step == 8 and int(step.numpy()) == 8
    assert float(weights.numpy()[0, 0]) == 8.0
    assert selection.damaged == {} and selection.moved_to is None and selection.report() == ""
    assert selection.intact == list(STEPS)
    assert sorted(checkpoint_steps(ckpt_dir)) == list(STEPS)


def test_a_missing_index_and_truncated_data_fall_back_to_an_intact_checkpoint(ckpt_dir):
    (ckpt_dir / "ckpt-8.index").unlink()
    data = ckpt_dir / "ckpt-6.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    selection, weights, step = _restore(ckpt_dir)
    assert selection.step == 4 and int(step.numpy()) == 4 and float(weights.numpy()[0, 0]) == 4.0
    assert set(selection.damaged) == {
        "ckpt-8.data-00000-of-00001", "ckpt-6.index", "ckpt-6.data-00000-of-00001"}
    assert selection.damaged["ckpt-8.data-00000-of-00001"] == "no .index file"
    assert "Read less bytes than requested" in selection.damaged["ckpt-6.data-00000-of-00001"]
    for name in selection.damaged:  # moved aside, not deleted
        assert not (ckpt_dir / name).exists() and (selection.moved_to / name).is_file()
    assert selection.intact == [2, 4]
    assert 'model_checkpoint_path: "ckpt-4"' in (ckpt_dir / "checkpoint").read_text()
    report = selection.report()
    assert report.startswith("damaged checkpoint files: ckpt-6.data-00000-of-00001, "
                             "ckpt-6.index, ckpt-8.data-00000-of-00001")
    assert report.endswith("resuming from ckpt-4 (step 4)")


def test_without_move_the_damaged_files_stay(ckpt_dir):
    (ckpt_dir / "ckpt-8.index").unlink()
    selection, _, step = _restore(ckpt_dir, move=False)
    assert selection.step == 6 and int(step.numpy()) == 6 and selection.moved_to is None
    assert (ckpt_dir / "ckpt-8.data-00000-of-00001").is_file()  # a worker leaves them


def test_a_garbled_pointer_is_set_aside_and_rewritten(ckpt_dir):
    (ckpt_dir / "checkpoint").write_text("model_checkpoint_pa{{ garbage\n")
    assert pointer_problem(ckpt_dir).startswith("not a checkpoint state")
    selection, _, step = _restore(ckpt_dir)
    assert selection.step == 8 and int(step.numpy()) == 8
    assert selection.damaged == {"checkpoint": pointer_problem_text("model_checkpoint_pa{{ garbage")}
    assert (selection.moved_to / "checkpoint").read_text().startswith("model_checkpoint_pa{{")
    assert pointer_problem(ckpt_dir) is None
    assert 'model_checkpoint_path: "ckpt-8"' in (ckpt_dir / "checkpoint").read_text()


def pointer_problem_text(line: str) -> str:
    return f"pointer file not a checkpoint state ({line!r})"


@pytest.mark.parametrize("text, why", [("", "empty"), ("all_model_checkpoint_paths: \"x\"\n",
                                                       "names no checkpoint")])
def test_pointer_problems_are_named(ckpt_dir, text, why):
    (ckpt_dir / "checkpoint").write_text(text)
    assert pointer_problem(ckpt_dir) == why


def test_nothing_restorable_is_an_error_that_moves_nothing(ckpt_dir):
    for index in ckpt_dir.glob("*.index"):
        index.write_bytes(b"not an sstable" * 8)
    before = sorted(p.name for p in ckpt_dir.iterdir())
    with pytest.raises(CheckpointError, match="holds checkpoints but none restores") as err:
        _restore(ckpt_dir)
    assert "ckpt-2:" in str(err.value) and "--restart" in str(err.value)
    assert sorted(p.name for p in ckpt_dir.iterdir()) == before


def test_a_checkpoint_of_another_model_is_refused_by_name(ckpt_dir):
    other = tf.train.Checkpoint(weights=tf.Variable(tf.zeros((5, 5))),
                                step=tf.Variable(0, dtype=tf.int64))  # fmt: skip
    with pytest.raises(CheckpointError, match="does not fit this model"):
        select_and_restore(other, ckpt_dir, move_damaged=True)
    assert sorted(checkpoint_steps(ckpt_dir)) == list(STEPS)


def test_an_empty_directory_selects_nothing(tmp_path):
    selection, _, step = _restore(tmp_path / "checkpoints")
    assert selection.path is None and selection.step is None and int(step.numpy()) == 0
