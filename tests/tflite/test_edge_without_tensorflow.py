"""The edge runtime runs with TensorFlow and Keras absent, and never imports them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EDGE_DIR = Path(__file__).resolve().parents[2] / "tflite"


# Makes every TensorFlow/Keras import fail, as on a board with only numpy, OpenCV and LiteRT.
BLOCK = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'tensorflow_model_optimization',
                                  'tf2onnx', 'onnxruntime', 'jax', 'torch'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')
        return None
sys.meta_path.insert(0, _Absent())
"""

RUN_CLI = """
sys.path.insert(0, {edge!r})
sys.argv = ['estimate.py', *{args!r}]
import estimate
code = estimate.main()
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))
print('LOADED', loaded)
sys.exit(code)
"""


def _run(prelude: str, args: list[str]) -> subprocess.CompletedProcess:
    code = prelude + RUN_CLI.format(edge=str(EDGE_DIR), args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def _check(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "LOADED []" in out.stdout
    result = json.loads(out.stdout[: out.stdout.rindex("LOADED")])
    (person,) = result["persons"]
    assert len(person["keypoints"]) == 17
    return result


def test_cli_runs_with_tensorflow_blocked(tiny_tflite, person_image):
    image, box = person_image
    args = [str(tiny_tflite), str(image), "--box", ",".join(map(str, box)), "--json"]
    result = _check(_run("import sys\n" + BLOCK, args))
    assert result["model"]["input_size"] == [64, 64]


def test_cli_does_not_import_installed_tensorflow(tiny_tflite, person_image, tmp_path):
    image, _ = person_image
    annotated = tmp_path / "annotated.jpg"
    out = _run("import sys\n", [str(tiny_tflite), str(image), "--json", "--output", str(annotated)])
    _check(out)
    assert annotated.stat().st_size > 1000
