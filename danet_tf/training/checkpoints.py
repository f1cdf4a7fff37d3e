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
import re
import shutil
import time
from pathlib import Path

import tensorflow as tf

_CKPT = re.compile(r"^ckpt-(\d+)\.(index|data-\d+-of-\d+)$")
_POINTER_KEYS = ("model_checkpoint_path", "all_model_checkpoint_paths",
                 "all_model_checkpoint_timestamps", "last_preserved_timestamp")


class CheckpointError(RuntimeError):
    """No usable checkpoint where one is needed; the message says what was found and why."""


@dataclasses.dataclass
class Selection:
    path: str | None  # prefix of the restored checkpoint, None: nothing to restore
    step: int | None
    damaged: dict[str, str]  # file name -> why (the files moved aside)
    moved_to: Path | None
    intact: list[int]  # steps of the restorable checkpoints kept (the chosen one included)

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


def select_and_restore(ckpt: tf.train.Checkpoint, ckpt_dir: Path, *, move_damaged: bool
                       ) -> Selection:
    """Restore the newest checkpoint of ``ckpt_dir`` that restores into ``ckpt``.

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
    failures: dict[int, str] = {}
    for step in sorted(found, reverse=True):
        files = found[step]
        prefix = str(ckpt_dir / f"ckpt-{step}")
        if not any(f.suffix == ".index" for f in files):
            failures[step] = "no .index file"
            continue
        try:
            ckpt.restore(prefix).assert_existing_objects_matched()
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
                     damaged, moved_to, intact)
