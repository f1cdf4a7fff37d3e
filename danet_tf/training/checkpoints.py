"""Choosing the checkpoint to resume from: the newest one that actually restores.

``tf.train.latest_checkpoint`` trusts the ``checkpoint`` pointer file: when the pointer is
unparsable it returns None (and the run would start again from step 0), and when the
checkpoint it names is damaged the restore fails with an error that names no file (a
truncated ``.data`` file gives ``IndexError: Read less bytes than requested``). Here the
candidates are every ``ckpt-<step>`` whose files are in the directory, newest first; each is
restored for real until one succeeds. The damaged ones (and an unparsable pointer) are moved
into ``checkpoints/damaged/<time>/`` (never deleted) and the pointer is rewritten (atomically)
to name the checkpoint in use and the older intact ones.

A checkpoint that restores but does not fit the model (another architecture or keypoint
count) is not damaged: that is an error naming it, and nothing is moved.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from pathlib import Path

import tensorflow as tf

_CKPT = re.compile(r"^ckpt-(\d+)\.(index|data-\d+-of-\d+)$")
_POINTER_KEYS = ("model_checkpoint_path", "all_model_checkpoint_paths",
                 "all_model_checkpoint_timestamps", "last_preserved_timestamp")


def training_checkpoint(model, optimizer, step) -> tf.train.Checkpoint:
    """What a training checkpoint holds: every model variable under its Keras path, the
    optimizer and the step counter.

    ``tf.train.Checkpoint(model=model)`` alone follows TensorFlow's object graph, which does
    not enter a Keras 3 layer's *list* of sublayers (``OrthogonalAttentionBlock.dense_layers``
    is a Keras ``TrackedList``): the trainable weights under such lists reached the
    checkpoint only through the optimizer, and their BatchNorm moving statistics not at all,
    so a resumed run restarted those statistics from their initial values. Keying every
    variable by its unique path covers them all, whatever a layer's containers.
    """
    weights = {}
    for v in model.weights:
        if v.path in weights:
            raise ValueError(f"two model variables share the path {v.path!r}")
        weights[v.path] = v
    parts = {"weights": weights, "optimizer": optimizer, "step": step}
    return tf.train.Checkpoint(**{k: v for k, v in parts.items() if v is not None})


def legacy_checkpoint(model, optimizer, step) -> tf.train.Checkpoint:
    """The layout of checkpoints written before :func:`training_checkpoint` (for resuming
    them: their nested BatchNorm statistics were never saved)."""
    parts = {"model": model, "optimizer": optimizer, "step": step}
    return tf.train.Checkpoint(**{k: v for k, v in parts.items() if v is not None})


def _state_path(ckpt_dir: Path, step: int) -> Path:
    return Path(ckpt_dir) / f"ckpt-{step}.state.json"


def write_step_state(ckpt_dir: Path, step: int, state: dict) -> None:
    """The loop's state at ``step`` that is not a variable (the epoch's running loss sums,
    the input stream's position), written beside ``ckpt-<step>`` before it."""
    from danet_tf.atomic import atomic_write_text

    Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(_state_path(ckpt_dir, step), json.dumps({"step": step, **state}))


def read_step_state(ckpt_dir: Path, step: int | None) -> dict:
    """What :func:`write_step_state` wrote with ``ckpt-<step>``; {} for none (a fresh run or
    a checkpoint written before step states, which then resumes at step x batch)."""
    if step is None:
        return {}
    try:
        data = json.loads(_state_path(ckpt_dir, step).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("step") != step:
        return {}
    out: dict = {}
    if isinstance(data.get("sums"), dict):
        out["sums"] = {str(k): float(v) for k, v in data["sums"].items()}
    if isinstance(data.get("position"), int) and data["position"] >= 0:
        out["position"] = data["position"]
    return out


def prune_step_state(ckpt_dir: Path) -> None:
    """Drop the states of checkpoints that the manager has rotated out."""
    kept = set(checkpoint_steps(Path(ckpt_dir)))
    for path in Path(ckpt_dir).glob("ckpt-*.state.json"):
        m = re.match(r"ckpt-(\d+)\.state\.json$", path.name)
        if m and int(m.group(1)) not in kept:
            path.unlink(missing_ok=True)


class CheckpointError(RuntimeError):
    """No usable checkpoint where one is needed; the message says what was found and why."""


@dataclasses.dataclass
class Selection:
    path: str | None  # prefix of the restored checkpoint, None: nothing to restore
    step: int | None
    damaged: dict[str, str]  # file name -> why (the files moved aside)
    moved_to: Path | None
    intact: list[int]  # steps of the restorable checkpoints kept (the chosen one included)
    legacy: bool = False  # restored through the pre-fix layout (legacy_checkpoint)

    def report(self) -> str:
        if not self.damaged:
            return ""
        files = ", ".join(sorted(self.damaged))
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(self.damaged.items()))
        where = f", moved to {self.moved_to}" if self.moved_to else ""
        using = f"resuming from ckpt-{self.step} (step {self.step})" if self.step is not None \
            else "no checkpoint left"
        return f"damaged checkpoint files: {files}{where} ({reasons}); {using}"


def checkpoint_steps(ckpt_dir: Path) -> dict[int, list[Path]]:
    """step -> the files of ``ckpt-<step>`` present in ``ckpt_dir``."""
    out: dict[int, list[Path]] = {}
    if not ckpt_dir.is_dir():
        return out
    for path in ckpt_dir.iterdir():
        m = _CKPT.match(path.name)
        if m and path.is_file():
            out.setdefault(int(m.group(1)), []).append(path)
    return out


def pointer_problem(ckpt_dir: Path) -> str | None:
    """Why ``checkpoints/checkpoint`` is unusable, or None (absent or well formed)."""
    pointer = ckpt_dir / "checkpoint"
    if not pointer.is_file():
        return None
    try:
        text = pointer.read_text()
    except (OSError, UnicodeDecodeError) as err:
        return f"unreadable ({err})"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "empty"
    for ln in lines:
        key, sep, value = ln.partition(":")
        if not sep or key.strip() not in _POINTER_KEYS or not value.strip():
            return f"not a checkpoint state ({ln[:60]!r})"
    if not any(ln.startswith("model_checkpoint_path:") for ln in lines):
        return "names no checkpoint"
    return None


def _why(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:200]}"


def _mismatch(err: BaseException) -> bool:
    """A restore that failed because the model does not fit the checkpoint's tensors."""
    if isinstance(err, AssertionError):
        return True
    return isinstance(err, ValueError) and "incompatible" in str(err).lower()


def select_and_restore(ckpt: tf.train.Checkpoint, ckpt_dir: Path, *, move_damaged: bool,
                       legacy: tf.train.Checkpoint | None = None) -> Selection:
    """Restore the newest checkpoint of ``ckpt_dir`` that restores into ``ckpt`` (or, for a
    checkpoint of the older layout, into ``legacy``).

    ``move_damaged`` (the chief): move the damaged files aside and rewrite the pointer.
    Raises ``CheckpointError`` when checkpoints exist and none restores (nothing is moved
    then), or when one restores but does not match the model.
    """
    found = checkpoint_steps(ckpt_dir)
    damaged: dict[str, str] = {}
    pointer_bad = pointer_problem(ckpt_dir)
    if pointer_bad:
        damaged["checkpoint"] = f"pointer file {pointer_bad}"
    chosen = None
    used_legacy = False
    failures: dict[int, str] = {}
    for step in sorted(found, reverse=True):
        files = found[step]
        prefix = str(ckpt_dir / f"ckpt-{step}")
        if not any(f.suffix == ".index" for f in files):
            failures[step] = "no .index file"
            continue
        try:
            try:
                ckpt.restore(prefix).assert_existing_objects_matched()
            except Exception:
                if legacy is None or not _legacy_layout(prefix):
                    raise
                legacy.restore(prefix).assert_existing_objects_matched()
                used_legacy = True
        except Exception as err:  # noqa: BLE001 - any failure means this one is unusable
            if _mismatch(err):
                raise CheckpointError(
                    f"{prefix} does not fit this model ({_why(err)}): the work directory "
                    "belongs to another model or keypoint count; use another --workdir"
                ) from None
            failures[step] = _why(err)
            continue
        chosen = step
        break
    if found and chosen is None:
        listing = "; ".join(f"ckpt-{s}: {why}" for s, why in sorted(failures.items()))
        extra = f"; checkpoints/checkpoint: {damaged['checkpoint']}" if pointer_bad else ""
        raise CheckpointError(
            f"{ckpt_dir} holds checkpoints but none restores ({listing}{extra}). Nothing was "
            "moved or deleted. Fix or remove them, or pass --restart to start again from "
            "step 0 (the old files are then kept in the work directory's previous/ folder)"
        )
    for step, why in failures.items():
        if step > (chosen or -1):
            for f in found[step]:
                damaged[f.name] = why
    intact = sorted(s for s in found if chosen is not None and s <= chosen
                    and s not in failures)
    moved_to = None
    if move_damaged and damaged:
        moved_to = ckpt_dir / "damaged" / time.strftime("%Y%m%d-%H%M%S")
        moved_to.mkdir(parents=True, exist_ok=True)
        for name in damaged:
            src = ckpt_dir / name
            if src.exists():
                shutil.move(str(src), str(moved_to / name))
    if move_damaged and chosen is not None:
        # The pointer names the checkpoint in use and the intact older ones (what
        # CheckpointManager reads to know which files it may rotate out).
        tf.compat.v1.train.update_checkpoint_state(
            str(ckpt_dir), f"ckpt-{chosen}", [f"ckpt-{s}" for s in intact])
    return Selection(None if chosen is None else str(ckpt_dir / f"ckpt-{chosen}"), chosen,
                     damaged, moved_to, intact, used_legacy)


def _legacy_layout(prefix: str) -> bool:
    """A readable checkpoint written with :func:`legacy_checkpoint`'s layout."""
    try:
        names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except Exception:  # noqa: BLE001 - unreadable: not this case
        return False
    return any(n.startswith("model/") for n in names) and not any(
        n.startswith("weights/") for n in names)
