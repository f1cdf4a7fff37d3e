"""Shared pytest fixtures.

Real data lives outside the repository. ``DANET_DATA`` points at it (default:
``../shared/data`` next to the repository root); tests that need it take the
``data_root`` fixture and skip cleanly when it is absent. CI sets ``DANET_DATA`` so
these tests always run there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
# The authors' MegEngine reference (their model's outputs for two random checkpoints).
DEFAULT_MEGENGINE_REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "megengine"


def data_root_path() -> Path:
    return Path(os.environ.get("DANET_DATA", str(DEFAULT_DATA)))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = data_root_path()
    if not (root / "coco_sample").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"DANET_DATA={root} has no coco_sample/ but CI must run real-data tests")
        pytest.skip(f"real data not found at {root} (set DANET_DATA)")
    return root


@pytest.fixture(scope="session")
def coco_sample(data_root: Path) -> Path:
    return data_root / "coco_sample"


@pytest.fixture(scope="session")
def lspet(data_root: Path) -> Path:
    return data_root / "lspet"


@pytest.fixture(scope="session")
def mpii_sample(data_root: Path) -> Path:
    return data_root / "mpii_sample"


@pytest.fixture(scope="session")
def megengine_reference() -> Path:
    """``DANET_MEGENGINE_REFERENCE``: tiny.pkl, danet72.pkl and their ``*_io.npz``."""
    root = Path(os.environ.get("DANET_MEGENGINE_REFERENCE", str(DEFAULT_MEGENGINE_REFERENCE)))
    if not (root / "tiny.pkl").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"DANET_MEGENGINE_REFERENCE={root} has no tiny.pkl but CI must use it")
        pytest.skip(f"MegEngine reference not found at {root} (set DANET_MEGENGINE_REFERENCE)")
    return root


# -- one tiny model and its exports, shared by tests/export, tests/tflite and tests/evaluation

TINY_INPUT = (64, 64)


@dataclass
class Exported:
    """One export of the shared tiny model: the file (alone in its folder), what
    ``export_model`` returned and what it printed."""

    path: Path
    result: object
    printed: str


@pytest.fixture(scope="session")
def tiny_model():
    """danet_tiny at 64x64 with random weights (seeded by the builder)."""
    import danet_tf

    return danet_tf.build_model("danet_tiny", input_shape=(*TINY_INPUT, 3))


@pytest.fixture(scope="session")
def crop_sets(coco_sample: Path):
    """(calibration, verification) real person crops for the tiny model: 24 / 6."""
    from danet_edge.codec import HeatmapCodec
    from danet_tf.export import person_crops

    crops = person_crops(coco_sample / "train.json", coco_sample / "images",
                         HeatmapCodec.for_input(TINY_INPUT), count=30)  # fmt: skip
    return crops.split()


@pytest.fixture(scope="session")
def tiny_export(tiny_model, crop_sets, tmp_path_factory):
    """``tiny_export(fmt, quantize="none") -> Exported``: each format and quantization of the
    tiny model is exported (and verified) once per session, whichever test asks first.
    Quantized modes other than fp16 are verified against `harness.random_weights_bounds()`; the default bounds hold
    trained models (tests/export/test_export_formats.py checks the shipped preset's)."""
    import contextlib
    import io

    from danet_tf.export import export_model
    from tests.harness import random_weights_bounds

    loose = random_weights_bounds()

    cache: dict[tuple[str, str], Exported] = {}
    names = {"keras": "tiny.keras", "savedmodel": "tiny_savedmodel", "onnx": "tiny.onnx"}

    def export(fmt: str, quantize: str = "none") -> Exported:
        key = (fmt, quantize)
        if key not in cache:
            calibration, verification = crop_sets
            name = names.get(fmt) or ("tiny.tflite" if quantize == "none"
                                      else f"tiny_{quantize}.tflite")
            out = tmp_path_factory.mktemp(f"tiny_{fmt}_{quantize}") / name
            bounds = None if quantize in ("none", "fp16") else loose
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                result = export_model(tiny_model, out, fmt, verification, quantize=quantize,
                                      calibration=calibration, bounds=bounds,
                                      model_name="danet_tiny")  # fmt: skip
            cache[key] = Exported(out, result, printed.getvalue())
        return cache[key]

    return export
