"""What defines a run, and whether a work directory may be resumed with a given config.

A run is its resolved config: every field of ``Config`` except the operational ones below
(where files go, how often to log and checkpoint, how the replicas are laid out: none of
them changes what is computed), plus what the config resolves to once the data are read
(keypoint count, training persons, steps per epoch, scaled learning rates). ``run.json`` in
the work directory records it; resuming with a different run is refused, listing the fields.

A few fields may change mid-run, each only when named with ``--allow-change FIELD``:

- ``train.epochs``: the schedule becomes the one of the new length, as if the run had been
  configured that long from the start (`danet_tf.training.schedule.LinearDecay` over the new
  ``epochs x steps_per_epoch``); the learning rate jumps at the resume step from its value on
  the old schedule to its value on the new one (both are printed). The new length must not
  be shorter than the steps already done.
- ``train.val_samples``, ``data.val_annotations``, ``data.val_images``: validation only
  (the best-epoch comparison restarts with the new metric's values).
- ``data.images``: the same images in another folder.
- ``runtime.mixed_precision``: compute precision; the checkpoints are float32 either way.

This module does not import TensorFlow.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

# Changing these never changes what the run computes.
OPERATIONAL = frozenset({
    "runtime.workdir", "runtime.strategy", "runtime.cpu_devices", "runtime.verbose",
    "train.checkpoint_every_steps", "train.keep_checkpoints", "train.log_every_steps",
    "train.overlay_samples", "data.synthetic_dir", "data.name",
})
# Allowed to change mid-run with --allow-change FIELD (see the module docstring).
CHANGEABLE = {
    "train.epochs": ("resolved.total_steps",),
    "train.val_samples": (),
    "data.val_annotations": (),
    "data.val_images": (),
    "data.images": (),
    "runtime.mixed_precision": (),
}
RUN_FILE = "run.json"


class RunMismatchError(ValueError):
    """The work directory holds another run; the message lists the differing fields."""


def flatten(config: dict[str, dict[str, Any]], resolved: dict[str, Any]) -> dict[str, Any]:
    out = {f"{sec}.{k}": v for sec, fields in config.items() for k, v in fields.items()}
    out.update({f"resolved.{k}": v for k, v in resolved.items()})
    return out


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples -> lists, as stored


def differences(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    keys = sorted(set(old) | set(new))
    diffs = {}
    for key in keys:
        if key in OPERATIONAL:
            continue
        a, b = _norm(old.get(key)), _norm(new.get(key))
        if key not in old:  # a field added to Config after the run started, at its default
            continue
        if a != b:
            diffs[key] = (a, b)
    return diffs


def read_run(workdir: Path) -> dict[str, Any] | None:
    path = workdir / RUN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return flatten(data["config"], data["resolved"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunMismatchError(
            f"{path} is unreadable ({type(err).__name__}: {err}); it records which run this "
            "work directory holds. Restore it, or use another --workdir") from None


def run_record(config: dict[str, dict[str, Any]], resolved: dict[str, Any]) -> str:
    return json.dumps({"config": _norm(config), "resolved": _norm(resolved)}, indent=1)


def check_same_run(old: dict[str, Any], new: dict[str, Any], allow: set[str] | frozenset[str],
                   workdir: Path, step: int) -> dict[str, tuple[Any, Any]]:
    """The allowed differences between the recorded run and this one; raises on the others."""
    unknown = sorted(set(allow) - set(CHANGEABLE))
    if unknown:
        raise RunMismatchError(
            f"--allow-change {', '.join(unknown)}: not a field that may change mid-run; those "
            f"are {', '.join(CHANGEABLE)}")
    diffs = differences(old, new)
    allowed_keys = set()
    for name in allow:
        allowed_keys.add(name)
        allowed_keys.update(CHANGEABLE[name])
    refused = {k: v for k, v in diffs.items() if k not in allowed_keys}
    if refused:
        listing = "; ".join(f"{k}: {a!r} in the work directory, {b!r} now"
                            for k, (a, b) in refused.items())
        safe = sorted(k for k in refused if k in CHANGEABLE)
        hint = (f" To change {', '.join(safe)} mid-run, pass --allow-change for each."
                if safe else "")
        raise RunMismatchError(
            f"{workdir} holds another run (at step {step}); this config differs in: {listing}."
            f"{hint} Otherwise use another --workdir (the default names the model, dataset "
            "and input size), or --restart to train this config there from step 0 (the old "
            "files are kept in previous/)")
    return diffs


# What a work directory holds for one run; --restart (or a fresh start over the files of a
# run that left no checkpoint) moves them into previous/<time>/ instead of deleting them.
RUN_FILES = ("checkpoints", "log.csv", "epochs.csv", "summary.json", "best.json", "final.keras",
             "best.keras", "curves.png", "predictions", "tensorboard", "run.json", "config.yaml",
             "val_subset.json")


def set_aside(workdir: Path, names: tuple[str, ...] = RUN_FILES) -> Path | None:
    """Move a run's files into ``previous/<time>/``; the folder, or None when none was there."""
    present = [n for n in names if (workdir / n).exists()]
    if not present:
        return None
    dest = workdir / "previous" / time.strftime("%Y%m%d-%H%M%S")
    while dest.exists():
        dest = dest.with_name(dest.name + "x")
    dest.mkdir(parents=True)
    for name in present:
        shutil.move(str(workdir / name), str(dest / name))
    return dest


def has_run_files(workdir: Path) -> bool:
    """Whether the work directory holds logs or models of a run."""
    from danet_tf.training.logs import read_csv_rows

    return bool(read_csv_rows(workdir / "log.csv") or read_csv_rows(workdir / "epochs.csv")
                or any((workdir / n).exists() for n in ("final.keras", "best.keras",
                                                        "summary.json")))


def recorded_run(workdir: Path) -> dict | None:
    """The run recorded in the work directory (``run.json``), or None."""
    return read_run(workdir)
