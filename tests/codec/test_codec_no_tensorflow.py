"""The codec lives in the TensorFlow-free edge distribution: it must not pull TensorFlow in."""

import subprocess
import sys

_BLOCK = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('tensorflow', 'keras', 'danet_tf'):\n"
    "            raise ImportError(f'{name} is not installed on this device')\n"
    "sys.meta_path.insert(0, _Block())\n"
)
_USE_CODEC = (
    "import numpy as np\n"
    "import danet_edge.codec as c\n"
    "import danet_edge.codec.flip, danet_edge.codec.geometry, danet_edge.codec.keypoints\n"
    "c.HeatmapCodec().decode(np.zeros((1, 64, 48, 17), np.float32), 'dark')\n"
    "c.authors.decode(np.zeros((1, 64, 48, 17), np.float32))\n"
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_codec_works_where_tensorflow_and_danet_tf_cannot_be_imported():
    out = _run(_BLOCK + _USE_CODEC)
    assert out.returncode == 0, out.stdout + out.stderr


def test_danet_tf_codec_is_the_edge_codec():
    out = _run(
        "import danet_tf.codec as a, danet_edge.codec as b\n"
        "assert a.HeatmapCodec is b.HeatmapCodec and a.authors is b.authors\n"
        "assert set(a.__all__) == set(b.__all__)\n"
    )
    assert out.returncode == 0, out.stdout + out.stderr
