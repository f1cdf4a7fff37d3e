"""Shared pytest fixtures.

Real data lives outside the repository. ``DANET_DATA`` points at it (default:
``../shared/data`` next to the repository root); tests that need it take the
``data_root`` fixture and skip cleanly when it is absent. CI sets ``DANET_DATA`` so
these tests always run there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
# The authors' MegEngine reference (their model's outputs for two random checkpoints).
DEFAULT_MEGENGINE_REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "megengine"


def data_root_path() -> Path:
    return Path(os.environ.get("DANET_DATA", str(DEFAULT_DATA)))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = data_root_path()
    if not (root / "coco_sample").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"DANET_DATA={root} has no coco_sample/ but CI must run real-data tests")
        pytest.skip(f"real data not found at {root} (set DANET_DATA)")
    return root


@pytest.fixture(scope="session")
def coco_sample(data_root: Path) -> Path:
    return data_root / "coco_sample"


@pytest.fixture(scope="session")
def lspet(data_root: Path) -> Path:
    return data_root / "lspet"


@pytest.fixture(scope="session")
def mpii_sample(data_root: Path) -> Path:
    return data_root / "mpii_sample"


@pytest.fixture(scope="session")
def megengine_reference() -> Path:
    """``DANET_MEGENGINE_REFERENCE``: tiny.pkl, danet72.pkl and their ``*_io.npz``."""
    root = Path(os.environ.get("DANET_MEGENGINE_REFERENCE", str(DEFAULT_MEGENGINE_REFERENCE)))
    if not (root / "tiny.pkl").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"DANET_MEGENGINE_REFERENCE={root} has no tiny.pkl but CI must use it")
        pytest.skip(f"MegEngine reference not found at {root} (set DANET_MEGENGINE_REFERENCE)")
    return root
