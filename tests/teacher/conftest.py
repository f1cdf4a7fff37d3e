"""The teacher file made at setup (``tools/fetch_teacher.py``); CI must have it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def teacher_file() -> Path:
    from danet_tf.teacher import default_teacher_path

    path = default_teacher_path("movenet_thunder")
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the teacher at {path} (python tools/fetch_teacher.py)")
        pytest.skip(f"teacher not made at {path}; run python tools/fetch_teacher.py")
    return path
