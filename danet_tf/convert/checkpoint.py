"""Reading MegEngine checkpoints without running their code.

``megengine.save`` writes a plain pickle. A pickle can name any importable callable and
call it while it loads, so a downloaded checkpoint is untrusted code until proven
otherwise. :func:`read_state_dict` unpickles with an allow-list of the few globals a
numpy state dict needs (array reconstruction and dtypes) and refuses every other one
*before* it is called; containers, numbers and strings need no globals at all.
"""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

# What pickled numpy arrays and dtypes reference. numpy 2 moved numpy.core to
# numpy._core; checkpoints written under either name map to the objects here, so
# numpy.core's deprecated alias is never imported.
_ARRAY_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
_CORE = np._core if hasattr(np, "_core") else np.core  # numpy 2 / numpy 1.26
for _module in ("numpy.core", "numpy._core"):
    _ARRAY_GLOBALS[(f"{_module}.multiarray", "_reconstruct")] = _CORE.multiarray._reconstruct
    _ARRAY_GLOBALS[(f"{_module}.multiarray", "scalar")] = _CORE.multiarray.scalar
    _ARRAY_GLOBALS[(f"{_module}.numeric", "_frombuffer")] = _CORE.numeric._frombuffer

ALLOWED = "numpy arrays and dtypes, dicts, lists, tuples, numbers and strings"


class UnsafeCheckpointError(ValueError):
    """The checkpoint references a global outside the allow-list (it could run code)."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ARRAY_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"{self._path}: the pickle references {module}.{name}; a checkpoint may hold "
                f"only {ALLOWED}, so it was refused before anything in it ran"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError(
            f"{self._path}: the pickle uses persistent ids ({str(pid)[:60]}); a checkpoint "
            f"may hold only {ALLOWED}"
        )


def read_checkpoint(path: str | os.PathLike) -> Any:
    """Unpickle ``path`` allowing only :data:`ALLOWED` objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    with open(path, "rb") as f:
        try:
            return _NumpyOnlyUnpickler(f, str(path)).load()
        except UnsafeCheckpointError:
            raise
        except Exception as err:  # truncated or not a pickle: many error types
            raise ValueError(
                f"{path}: not a readable MegEngine checkpoint ({type(err).__name__}: {err})"
            ) from err


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The ``{name: array}`` of a bare state dict or a ``{"state_dict": ...}`` checkpoint."""
    obj = read_checkpoint(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(
            f"{path}: expected a state dict {{name: array}} or a training checkpoint with a "
            f"'state_dict' entry, got {type(obj).__name__}"
            + (f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else "")
        )
    bad = {str(k): type(v).__name__ for k, v in obj.items() if not isinstance(v, np.ndarray)}
    if bad:
        raise ValueError(f"{path}: state dict entries that are not arrays: {bad}")
    return {str(k): v for k, v in obj.items()}
