"""The edge distribution on Debian arm64 under qemu-user: tools/check_arm64.sh end to end.

Opt-in (``DANET_ARM64=1``, as root): it builds or reuses a cached arm64 userland, pip-installs
danet-edge there, exports models and runs them emulated, which takes minutes (7.5 to 15 on two
shared cores with the userland and venvs cached, about 8 more without them): too slow for
every CI run. It is run before each release of the deployment docs (docs/deployment.md, "arm64
check"). ``DANET_ARM64_MODELS`` and the script's other variables pass through.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.harness import REPO

SCRIPT = REPO / "tools" / "check_arm64.sh"

OPT_IN = pytest.mark.skipif(
    os.environ.get("DANET_ARM64") != "1",
    reason="arm64 emulation check is opt-in: set DANET_ARM64=1 (root, minutes; run before "
    "each release of the deployment docs)",
)


def test_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@OPT_IN
@pytest.mark.timeout(5400)
def test_edge_distribution_matches_x86_on_arm64(coco_sample: Path, tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("tools/check_arm64.sh needs root (debootstrap, chroot, mount)")
    env = {**os.environ, "OUT": str(tmp_path), "DANET_DATA": str(coco_sample.parent)}
    run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    report_path = tmp_path / "report.json"
    assert report_path.is_file(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["arm64"]["machine"] == "aarch64"
    assert report["x86"]["machine"] == "x86_64"
    assert report["arm64"]["versions"] == report["x86"]["versions"]
    rows = report["rows"]
    floats = [r for r in rows if r["quantization"] == "none"]
    assert floats, "no float32 model was compared"
    for r in floats:
        assert r["max_heatmap_diff"] <= 1e-4, r
        assert max(r["max_keypoint_diff_px_raw"], r["max_keypoint_diff_px_cli"]) <= 0.5, r
    for r in rows:
        assert r["passed"], r
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "| model (weights, quantization) |" in run.stdout
