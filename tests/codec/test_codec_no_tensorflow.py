"""The codec is imported by the TensorFlow-free edge runtime: it must not pull TensorFlow in."""

import subprocess
import sys
from pathlib import Path

_PACKAGE_DIR = str(Path(__file__).resolve().parents[2] / "danet_tf")
_USE_CODEC = (
    "import numpy as np\n"
    "import danet_tf.codec as c\n"
    "import danet_tf.codec.flip, danet_tf.codec.geometry, danet_tf.codec.keypoints\n"
    "import danet_tf.codec.authors\n"
    "c.HeatmapCodec().decode(np.zeros((1, 64, 48, 17), np.float32), 'dark')\n"
    "c.authors.decode(np.zeros((1, 64, 48, 17), np.float32))\n"
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


_BLOCK_TENSORFLOW = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('tensorflow', 'keras'):\n"
    "            raise ImportError(f'{name} is not installed on this device')\n"
    "sys.meta_path.insert(0, _Block())\n"
)


def test_package_imports_on_a_device_without_tensorflow():
    # `import danet_tf` registers the Keras layers when Keras is there (load_model needs
    # that); on an edge device without it, the package and its codec still import, and
    # the model functions say why they cannot work.
    code = _BLOCK_TENSORFLOW + _USE_CODEC.replace(
        "sys.exit(1 if bad else 0)\n",
        "import danet_tf\n"
        "try:\n"
        "    danet_tf.build_model('danet72')\n"
        "except ImportError as err:\n"
        "    assert 'needs Keras 3 and TensorFlow' in str(err), err\n"
        "else:\n"
        "    sys.exit(2)\n"
        "sys.exit(1 if bad else 0)\n",
    )
    out = _run(code)
    assert out.returncode == 0, out.stdout + out.stderr
