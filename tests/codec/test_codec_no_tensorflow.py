"""The codec is imported by the TensorFlow-free edge runtime: it must not pull TensorFlow in."""

import subprocess
import sys
from pathlib import Path

import pytest

_PACKAGE_DIR = str(Path(__file__).resolve().parents[2] / "danet_tf")
_USE_CODEC = (
    "import numpy as np\n"
    "import danet_tf.codec as c\n"
    "import danet_tf.codec.flip, danet_tf.codec.geometry, danet_tf.codec.keypoints\n"
    "c.HeatmapCodec().decode(np.zeros((1, 64, 48, 17), np.float32), 'dark')\n"
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
    "print(bad[:5])\n"
    "sys.exit(1 if bad else 0)\n"
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_codec_modules_never_import_tensorflow():
    # An empty parent package isolates the codec's own imports from danet_tf/__init__.py.
    stub = (
        "import sys, types\n"
        f"pkg = types.ModuleType('danet_tf'); pkg.__path__ = [{_PACKAGE_DIR!r}]\n"
        "sys.modules['danet_tf'] = pkg\n"
    )
    out = _run(stub + _USE_CODEC)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.xfail(
    reason="danet_tf/__init__.py imports keras eagerly whenever it is installed, so "
    "`import danet_tf.codec` loads TensorFlow (owner of danet_tf/__init__.py: make it lazy)",
    strict=False,
)
def test_import_danet_tf_codec_stays_tensorflow_free():
    out = _run("import sys\n" + _USE_CODEC)
    assert out.returncode == 0, out.stdout + out.stderr
