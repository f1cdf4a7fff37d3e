"""Where the training configs (``configs/*.yaml``) are: the checkout's ``configs/`` when
running from a checkout, else the copy installed with the ``danet_tf`` package
(``importlib.resources.files("danet_tf") / "configs"``, package data of the wheel).

Standard library only: nothing here imports ``danet_tf`` (or TensorFlow).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEMO_CONFIG = "danet_tiny_synthetic-128x96"  # the no-argument run of danet-train


def checkout_config_dir() -> Path | None:
    """``configs/`` of the source checkout these modules run from, or None (installed)."""
    root = Path(__file__).resolve().parents[1]
    if (root / "setup.cfg").is_file() and (root / "configs").is_dir():
        return root / "configs"
    return None


def packaged_config_dir() -> Path:
    """``danet_tf/configs`` of the installed package (found without importing danet_tf)."""
    spec = importlib.util.find_spec("danet_tf")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the danet_tf package is not installed")
    # what importlib.resources.files("danet_tf") / "configs" is, minus the import
    return Path(next(iter(spec.submodule_search_locations))) / "configs"


def config_dir() -> Path:
    """The directory of the shipped training configs: the checkout's, else the package's."""
    return checkout_config_dir() or packaged_config_dir()


def shipped_configs() -> list[str]:
    """Names (without ``.yaml``) of the shipped configs."""
    try:
        return sorted(p.stem for p in config_dir().glob("*.yaml"))
    except FileNotFoundError:
        return []


def find_config(name: str | Path | None) -> Path | None:
    """A config file path, or the name of a shipped config (``danet72_coco-256x192``, with or
    without ``.yaml``) -> its path. An existing file wins over a shipped name; a name that is
    neither comes back as given (the config loader then says that it does not exist)."""
    if name is None:
        return None
    path = Path(name)
    if path.is_file() or len(path.parts) > 1:
        return path
    shipped = config_dir() / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    return shipped if shipped.is_file() else path
