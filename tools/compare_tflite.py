"""Interleaved A/B timing of .tflite files in one process: median ms and ratio to the first.

python tools/compare_tflite.py fp32.tflite:xnnpack int8.tflite:builtin int8-float-dw.tflite:xnnpack
python tools/compare_tflite.py a.tflite b.tflite --threads 1,2 --rounds 25 --json out.json
python tools/compare_tflite.py m.tflite:xnnpack m.onnx   # ONNX Runtime in the same rounds

Each argument is ``PATH[:xnnpack|builtin]`` (default: the resolver its metadata names), or an
``.onnx`` file (ONNX Runtime's CPU provider, the same thread count); the
same model may be given twice, as a control of the noise floor. Every round invokes each
model once, in a new random order, so all of them see the same machine load and none always
follows the same neighbour (measured: cache effects of the order moved one model by up to
20 %). On a shared machine that makes the ratios far steadier than timing one model after
another (`tools/benchmark.py` does that, with the pre- and post-processing and the matmul
ceiling).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def parse_candidate(text: str) -> tuple[str, bool | None]:
    """``PATH[:xnnpack|builtin]`` -> (path, xnnpack or None for the metadata's choice)."""
    path, resolver = text, ""
    if text.endswith((":xnnpack", ":builtin")):
        path, _, resolver = text.rpartition(":")
    if not Path(path).is_file():
        kind = ".onnx" if path.endswith(".onnx") else ".tflite"
        raise SystemExit(f"no such {kind} file: {path!r}")
    return path, {"xnnpack": True, "builtin": False}.get(resolver)


class _OnnxRunner:
    """``invoke()`` of one fixed input through ONNX Runtime (the interpreter's interface)."""

    def __init__(self, path: str, threads: int, seed: int) -> None:
        from danet_edge.runners import OnnxModel

        self.model = OnnxModel(path, threads)
        shape = (1, *self.model.input_shape)
        self.image = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)

    def invoke(self) -> None:
        self.model.session.run(None, {self.model.name: self.image})


def compare(candidates: list[str], threads: int, rounds: int, seed: int = 0) -> list[dict]:
    """Median milliseconds per invoke of each candidate over ``rounds`` interleaved rounds."""
    from danet_edge.metadata import MetadataError, read_metadata
    from danet_edge.runners import make_interpreter

    runners = []
    for text in candidates:
        path, xnnpack = parse_candidate(text)
        if path.endswith(".onnx"):
            runner = _OnnxRunner(path, threads, seed)
            for _ in range(2):
                runner.invoke()
            runners.append((text, runner))
            continue
        try:
            meta = read_metadata(path)
        except MetadataError:  # a .tflite of another origin: LiteRT's default resolver
            meta = None
        interpreter = make_interpreter(path, threads, xnnpack, meta)
        detail = interpreter.get_input_details()[0]
        image = np.random.default_rng(seed).uniform(0, 255, detail["shape"]).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], image)
        for _ in range(2):  # warm-up: delegate preparation, caches
            interpreter.invoke()
        runners.append((text, interpreter))
    times: list[list[float]] = [[] for _ in runners]
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        for i in rng.permutation(len(runners)):  # a new order each round: no model always
            start = time.perf_counter()  # runs right after the same neighbour
            runners[i][1].invoke()
            times[i].append(time.perf_counter() - start)
    base = float(np.median(times[0]))
    return [{"model": text, "threads": threads, "median_ms": 1e3 * float(np.median(t)),
             "ratio_to_first": float(np.median(t)) / base}
            for (text, _), t in zip(runners, times, strict=True)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="PATH[:xnnpack|builtin]; the first is the baseline")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        for row in compare(args.models, threads, args.rounds):
            rows.append(row)
            print(f"threads {threads}  {row['model']:60s} {row['median_ms']:8.2f} ms  "
                  f"ratio to first {row['ratio_to_first']:.2f}", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
