from __future__ import annotations

import pytest

from tests.harness import subprocess_env


@pytest.fixture
def child_env():
    return subprocess_env
