"""The edge distribution runs with TensorFlow, Keras and danet_tf absent, and never imports them."""

from __future__ import annotations

import json
import subprocess
import sys

# Makes every TensorFlow/Keras/danet_tf import fail, as on a board with only numpy, OpenCV and
# LiteRT installed.
BLOCK = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'tensorflow_model_optimization',
                                  'tf2onnx', 'jax', 'torch', 'danet_tf'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')
        return None
sys.meta_path.insert(0, _Absent())
"""

RUN_CLI = """
from danet_edge.cli import main
code = main({args!r})
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'danet_tf'))
print('LOADED', loaded)
sys.exit(code)
"""


def _run(prelude: str, args: list[str]) -> subprocess.CompletedProcess:
    code = "import sys\n" + prelude + RUN_CLI.format(args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def _check(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "LOADED []" in out.stdout
    result = json.loads(out.stdout[: out.stdout.rindex("LOADED")])
    (person,) = result["persons"]
    assert len(person["keypoints"]) == 17 and len(person["box"]) == 4
    return result


def test_cli_runs_with_tensorflow_blocked(tiny_tflite, tiny_onnx, person_image):
    image, box = person_image
    for model in (tiny_tflite, tiny_onnx):
        args = [str(model), str(image), "--box", ",".join(map(str, box)), "--json"]
        result = _check(_run(BLOCK, args))
        assert result["model"]["input_size"] == [64, 64]


def test_cli_does_not_import_installed_tensorflow(tiny_tflite, person_image, tmp_path):
    image, _ = person_image
    annotated = tmp_path / "annotated.jpg"
    out = _run("", [str(tiny_tflite), str(image), "--json", "--no-detector", "--output", str(annotated)])
    _check(out)
    assert annotated.stat().st_size > 1000


def test_every_edge_module_imports_without_tensorflow():
    code = "import sys\n" + BLOCK + (
        "import pkgutil, importlib, danet_edge\n"
        "names = [m.name for m in pkgutil.walk_packages(danet_edge.__path__, 'danet_edge.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "print(len(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) >= 8
