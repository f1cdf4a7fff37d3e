"""The codec is imported by the TensorFlow-free edge runtime."""

import subprocess
import sys


def test_codec_never_imports_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "import danet_tf.codec as c\n"
        "c.HeatmapCodec().decode(np.zeros((1, 64, 48, 17), np.float32), 'dark')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
