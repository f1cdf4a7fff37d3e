"""The console commands of the danet_tf wheel (danet_tools): installed, --help without
TensorFlow, TensorFlow's start-up lines hidden, configs shipped as package data."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.harness import REPO

BIN = Path(sys.executable).parent

# console command -> danet_tools module (and tools/<module>.py, the same command)
COMMANDS = {
    "danet-train": "train",
    "danet-eval": "eval",
    "danet-export": "export",
    "danet-benchmark": "benchmark",
    "danet-demo": "demo",
    "danet-convert": "convert_megengine",
    "danet-complexity": "complexity",
    "danet-fetch-detector": "fetch_detector",
    "danet-fetch-teacher": "fetch_teacher",
    "danet-label": "pseudo_label",
    "danet-make-preset": "make_preset",
}
# tools/<name>.py that are thin wrappers of danet_tools (tools/train.py joins once converted)
WRAPPERS = ["train", "eval", "export", "benchmark", "demo", "convert_megengine", "complexity",
            "fetch_detector", "fetch_teacher", "pseudo_label", "make_preset"]  # fmt: skip

# Makes every TensorFlow / Keras / danet_tf import fail.
BLOCK = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'tensorflow_model_optimization',
                                  'tf2onnx', 'onnxruntime', 'danet_tf'):
            raise ModuleNotFoundError(f'No module named {name!r} (blocked by the test)')
        return None
sys.meta_path.insert(0, _Absent())
"""
# Runs a script file (a console script or tools/<name>.py) as __main__ with these argv.
RUN_SCRIPT = """
import runpy
sys.argv = {argv!r}
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'danet_tf'))
print('LOADED', heavy)
sys.exit(code)
"""


def _python(code: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 120):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)  # fmt: skip


def test_setup_cfg_declares_every_command():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    lines = cfg["options.entry_points"]["console_scripts"].strip().splitlines()
    declared = dict(line.replace(" ", "").split("=") for line in lines)
    assert declared == {cmd: f"danet_tools.{mod}:main" for cmd, mod in COMMANDS.items()}


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_installed_and_its_help_is_fast(command):
    path = BIN / command
    assert path.is_file(), f"{path} missing: bash tools/setup.sh installs the commands"
    start = time.perf_counter()
    out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(f"usage: {command}"), out.stdout[:200]
    # About 0.1 s (danet-eval 0.4-0.7 s: numpy and OpenCV for the codec's decode modes);
    # importing TensorFlow alone takes over 5 s here. Generous for a loaded machine.
    assert elapsed < 4.0, f"{command} --help took {elapsed:.1f} s"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_keeps_its_line_breaks(command):
    """A docstring's shell continuation (a backslash at a line's end) must stay a backslash:
    written as a bare \\ in a Python string it joins the lines into runs of spaces."""
    out = subprocess.run([str(BIN / command), "--help"], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0 and out.stdout.startswith(f"usage: {command}"), out.stderr[-600:]
    assert not re.search(r"\S {4,}--", out.stdout), out.stdout[:600]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_answers_with_tensorflow_blocked(command):
    out = _python(BLOCK + RUN_SCRIPT.format(argv=[str(BIN / command), "--help"]))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout and "LOADED []" in out.stdout, out.stdout[-500:]


@pytest.mark.parametrize("name", WRAPPERS)
def test_tools_script_is_the_same_command(name):
    out = _python(BLOCK + RUN_SCRIPT.format(argv=[str(REPO / "tools" / f"{name}.py"), "--help"]))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith(f"usage: {name}.py") and "LOADED []" in out.stdout
    command = next(cmd for cmd, mod in COMMANDS.items() if mod == name)
    direct = _python(BLOCK + RUN_SCRIPT.format(argv=[str(BIN / command), "--help"]))
    options = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
    assert set(options.findall(out.stdout)) == set(options.findall(direct.stdout)) != set()


def test_demo_of_a_tflite_runs_without_tensorflow(coco_sample, tmp_path):
    """danet-demo on a .tflite (the default preset) goes through the edge runtime: with
    TensorFlow, Keras and danet_tf unimportable it draws the people and exits 0."""
    image = coco_sample / "images" / "000000196141.jpg"
    out = tmp_path / "out.png"
    run = _python(BLOCK + RUN_SCRIPT.format(argv=[str(BIN / "danet-demo"), str(image),
                                                  "--output", str(out)]), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "LOADED []" in run.stdout and out.is_file()
    assert '"persons": 5' in run.stdout


def test_demo_checks_its_arguments_before_loading_anything(tmp_path):
    run = _python(BLOCK + RUN_SCRIPT.format(argv=[str(BIN / "danet-demo"), str(tmp_path / "x.jpg"),
                                                  "--output", "out.png"]))  # fmt: skip
    assert run.returncode == 1 and "input " in run.stderr and "does not exist" in run.stderr
    (tmp_path / "x.jpg").write_bytes(b"")
    run = _python(BLOCK + RUN_SCRIPT.format(argv=[str(BIN / "danet-demo"), str(tmp_path / "x.jpg"),
                                                  "--output", str(tmp_path / "no" / "o.png"),
                                                  "--model", "danet72.keras"]))  # fmt: skip
    assert run.returncode == 1 and "does not exist" in run.stderr and "LOADED []" in run.stdout


def test_train_help_lists_the_shipped_configs(capsys):
    from danet_tools.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    words = capsys.readouterr().out.split()
    assert {"danet72_coco-256x192", "danet_tiny_synthetic-128x96"} <= set(words)


def test_choices_are_declared_once():
    """The library's and the commands' constants are the danet_edge.choices objects, not
    copies."""
    import danet_tf.benchmarks.deployment
    import danet_tf.config
    import danet_tf.evaluation
    import danet_tf.evaluation.evaluate as evaluate
    import danet_tf.export.api
    import danet_tf.export.converters
    import danet_tools.choices
    from danet_edge import choices

    assert danet_tf.export.api.FORMATS is choices.FORMATS
    assert danet_tf.export.converters.QUANTIZE_MODES is choices.QUANTIZE_MODES
    assert danet_tf.benchmarks.deployment.RUNTIMES is choices.RUNTIMES
    assert danet_tf.config.STRATEGIES is choices.STRATEGIES
    assert evaluate.METRICS is choices.METRICS is danet_tf.evaluation.METRICS
    assert evaluate.DEFAULT_NMS_THRESHOLD is choices.DEFAULT_NMS_THRESHOLD
    assert evaluate.DEFAULT_RESCORE_THRESHOLD is choices.DEFAULT_RESCORE_THRESHOLD
    assert danet_tf.evaluation.parse_size is choices.parse_size
    assert danet_tools.choices.RUNTIMES is choices.RUNTIMES
    assert choices.parse_size("256x192") == (256, 192)
    for bad in ("256", "0x192", "axb"):
        with pytest.raises(ValueError, match="size must"):
            choices.parse_size(bad)


def test_start_up_filter_keeps_other_lines():
    code = (
        "import os\nfrom danet_tools import _filtered_stderr\nwith _filtered_stderr():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1.2 1 cudart_stub.cc:31] Could not find cuda drivers on "
        "your machine, GPU will not be used.\\n')\n"
        "    os.write(2, b'E0000 00:00:1.2 1 some_op.cc:7] a real error\\n')\n"
        "    print('python line', file=__import__('sys').stderr)\n"
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == ["E0000 00:00:1.2 1 some_op.cc:7] a real error",
                                       "python line"]  # fmt: skip


def test_verbose_or_a_user_level_leaves_tensorflow_alone():
    """DANET_VERBOSE=1 or the user's TF_CPP_MIN_LOG_LEVEL: no import, no level set."""
    code = BLOCK + (
        "import os\nfrom danet_tools import quiet_tensorflow\nquiet_tensorflow()\n"
        "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DANET_VERBOSE")}
    out = _python(code, env=env | {"DANET_VERBOSE": "1"})
    assert out.returncode == 0 and out.stdout.strip() == "None", out.stderr[-1000:]
    out = _python(code, env=env | {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert out.returncode == 0 and out.stdout.strip() == "0", out.stderr[-1000:]


def test_tensorflow_start_up_lines_are_hidden():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DANET_VERBOSE")}
    code = (
        "from danet_tools import quiet_tensorflow\nquiet_tensorflow()\n"
        "import danet_tf, numpy as np, tensorflow as tf\n"
        "m = danet_tf.build_model('danet_tiny', input_shape=(64, 64, 3))\n"
        "print(m(np.zeros((1, 64, 64, 3), 'float32')).shape)\n"
    )
    out = _python(code, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(1, 16, 16, 17)"
    assert out.stderr == "", out.stderr[-2000:]


# --- configs as package data ---------------------------------------------------------------


def test_config_lookup_in_the_checkout(tmp_path, monkeypatch):
    from danet_tools.configs import config_dir, find_config

    assert config_dir() == REPO / "configs"
    monkeypatch.chdir(tmp_path)
    demo = REPO / "configs" / "danet_tiny_synthetic-128x96.yaml"
    assert find_config("danet_tiny_synthetic-128x96") == demo
    assert find_config("danet_tiny_synthetic-128x96.yaml") == demo
    (tmp_path / "danet_tiny_synthetic-128x96.yaml").write_text("model: {name: danet72}\n")
    assert find_config("danet_tiny_synthetic-128x96.yaml") == Path("danet_tiny_synthetic-128x96.yaml")
    assert find_config("no_such_config") == Path("no_such_config")  # the loader names it
    assert find_config(None) is None


def test_the_documented_checkout_install_resolves_both_distributions(tmp_path):
    """``pip install ./tflite .`` (the README's install from a checkout): pip takes danet-edge,
    which danet_tf pins, from the checkout's tflite/ folder, not from an index. A dry run
    with no index, on a copy of the sources, against this environment's other packages."""
    import json

    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "work_dirs", "__pycache__", "*.egg-info", "build", ".pytest_cache"))
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
         "--no-build-isolation", "--quiet", "--report", str(report), "./tflite", "."],
        cwd=src, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    found = {i["metadata"]["name"].replace("_", "-"): i["download_info"]["url"]
             for i in json.loads(report.read_text())["install"]}  # fmt: skip
    assert found == {"danet-edge": (src / "tflite").as_uri(), "danet-tf": src.as_uri()}, found


@pytest.mark.slow
def test_wheel_holds_configs_commands_and_licence_and_trains_from_elsewhere(tmp_path):
    """Build the wheel from a copy of the sources, install it by unpacking (pure Python), then
    resolve and load the shipped configs from another directory, outside any checkout."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("danet_tf", "danet_tools", "configs"):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=ignore)
    assert (src / "danet_tf" / "configs").is_symlink()
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("danet_tf-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dist = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = z.read(f"{dist}/entry_points.txt").decode()
        metadata = z.read(f"{dist}/METADATA").decode()
        # <dist-info>/licenses/ (setuptools >= 70, metadata 2.4) or <dist-info>/ (older)
        (licence_name,) = (n for n in names if n in (f"{dist}/licenses/LICENSE", f"{dist}/LICENSE"))
        licence = z.read(licence_name).decode()
        assert any(n.endswith("/NOTICE") and n.startswith(dist) for n in names)
        site = tmp_path / "site"
        z.extractall(site)
    shipped = {p.name for p in (REPO / "configs").glob("*.yaml")}
    assert {f"danet_tf/configs/{n}" for n in shipped} <= names
    for module in ("__init__", "choices", "configs", *COMMANDS.values()):
        assert f"danet_tools/{module}.py" in names
    for command, module in COMMANDS.items():
        assert f"{command} = danet_tools.{module}:main" in entry_points
    assert "License-Expression: Apache-2.0" in metadata or "License: Apache-2.0" in metadata
    assert licence == (REPO / "LICENSE").read_text() and "Apache License" in licence

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import sys\n"
        "from danet_tools.configs import DEMO_CONFIG, config_dir, find_config, shipped_configs\n"
        "import danet_tools\n"
        f"assert danet_tools.__file__.startswith({str(site)!r}), danet_tools.__file__\n"
        f"assert str(config_dir()).startswith({str(site)!r}), config_dir()\n"
        f"assert shipped_configs() == {sorted(p[:-5] for p in shipped)!r}\n"
        "from danet_tf.config import load_config\n"
        "import danet_tf\n"
        f"assert danet_tf.__file__.startswith({str(site)!r}), danet_tf.__file__\n"
        "cfg = load_config(find_config(DEMO_CONFIG))\n"
        "print(find_config(DEMO_CONFIG), cfg.model.name, tuple(cfg.model.input_size))\n"
        "for name in shipped_configs(): load_config(find_config(name))\n"
    )
    env = os.environ | {"PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = _python(code, cwd=elsewhere, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    path, model, size = out.stdout.split(maxsplit=2)
    assert Path(path) == site / "danet_tf" / "configs" / "danet_tiny_synthetic-128x96.yaml"
    assert model == "danet_tiny" and size.strip() == "(128, 96)"


@pytest.mark.slow
def test_edge_wheel_carries_the_licence(tmp_path):
    src = tmp_path / "tflite"
    shutil.copytree(REPO / "tflite", src, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))  # fmt: skip
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheels"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("danet_edge-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (licence,) = (n for n in names if n.split("/")[-1] == "LICENSE" and ".dist-info/" in n)
        assert z.read(licence).decode() == (REPO / "LICENSE").read_text()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata or "License: Apache-2.0" in metadata
    assert (REPO / "tflite" / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
