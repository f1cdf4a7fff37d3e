"""Per-op time of a .tflite model, by timing every distinct op as a one-op model.

LiteRT's Python interpreter has no op profiler (``ai_edge_litert`` 2.3.0 exposes none), so
:func:`profile_tflite` cuts the model apart: every operator of the main subgraph becomes a
standalone one-op .tflite file with its constant inputs (weights) kept and its other inputs
as graph inputs, at the real shapes and types. Ops with the same type, shapes and options
are timed once and counted as often as they occur. All one-op models are invoked in
interleaved rounds (a new random order each round), so machine load hits all of them alike.

The sum over the ops is an estimate of the whole model's time: it leaves out what happens
between ops (and a one-op model pays XNNPACK's per-invoke overhead once per op), so the
report also times the whole model in the same rounds.

TensorFlow-free: needs ``ai-edge-litert`` (and its ``flatbuffers``) and numpy only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class OpProfile:
    """One distinct op (type, shapes, options) and its median time per invoke."""

    op_type: str
    input_shapes: list[tuple[int, ...]]
    output_shapes: list[tuple[int, ...]]
    count: int
    median_ms: float = 0.0
    names: list[str] = field(default_factory=list)

    @property
    def total_ms(self) -> float:
        return self.count * self.median_ms


@dataclass
class Profile:
    """The per-op profile of one model under one resolver and thread count."""

    model: str
    xnnpack: bool
    threads: int
    rounds: int
    whole_model_ms: float
    ops: list[OpProfile]

    @property
    def sum_of_ops_ms(self) -> float:
        return sum(op.total_ms for op in self.ops)

    def by_type(self) -> list[tuple[str, int, float, float]]:
        """(op type, count, ms, share of the sum of ops), slowest first."""
        totals: dict[str, list[float]] = {}
        for op in self.ops:
            entry = totals.setdefault(op.op_type, [0, 0.0])
            entry[0] += op.count
            entry[1] += op.total_ms
        total = self.sum_of_ops_ms or 1.0
        rows = [(t, int(c), ms, ms / total) for t, (c, ms) in totals.items()]
        return sorted(rows, key=lambda r: -r[2])

    def table(self, top: int = 0) -> str:
        """Markdown: per op type, then (``top`` > 0) the slowest distinct ops."""
        resolver = "XNNPACK" if self.xnnpack else "builtin"
        lines = [
            f"{self.model}: {resolver}, {self.threads} thread(s), {self.rounds} rounds; whole "
            f"model {self.whole_model_ms:.2f} ms, sum of ops {self.sum_of_ops_ms:.2f} ms",
            "",
            "| op type | count | ms | share |",
            "|---|---|---|---|",
        ]
        for op_type, count, ms, share in self.by_type():
            lines.append(f"| {op_type} | {count} | {ms:.2f} | {share:.1%} |")
        if top:
            lines += ["", "| op | shapes in -> out | count | ms each | ms total |",
                      "|---|---|---|---|---|"]  # fmt: skip
            for op in sorted(self.ops, key=lambda o: -o.total_ms)[:top]:
                shapes = f"{_fmt(op.input_shapes)} -> {_fmt(op.output_shapes)}"
                lines.append(f"| {op.op_type} | {shapes} | {op.count} | {op.median_ms:.3f} "
                             f"| {op.total_ms:.2f} |")  # fmt: skip
        return "\n".join(lines)


def _fmt(shapes: Iterable[tuple[int, ...]]) -> str:
    return ", ".join("x".join(map(str, s)) for s in shapes)


def op_types(model: str | Path | bytes) -> list[str]:
    """The builtin op name of every operator of the main subgraph, in order."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    tree = fb.read_model_from_bytearray(bytearray(_read(model)))
    names = _op_names(tree)
    return [names[op.opcodeIndex] for op in tree.subgraphs[0].operators]


def depthwise_kernel_sizes(model: str | Path | bytes) -> list[tuple[int, int]]:
    """(height, width) of every DEPTHWISE_CONV_2D kernel of the main subgraph."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    tree = fb.read_model_from_bytearray(bytearray(_read(model)))
    names = _op_names(tree)
    graph = tree.subgraphs[0]
    sizes = []
    for op in graph.operators:
        if names[op.opcodeIndex] == "DEPTHWISE_CONV_2D":
            shape = list(graph.tensors[op.inputs[1]].shape)  # (1, kh, kw, C)
            sizes.append((int(shape[1]), int(shape[2])))
    return sizes


def _read(model: str | Path | bytes) -> bytes:
    return bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()


def _op_names(tree) -> list[str]:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fb

    code_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for code in tree.operatorCodes:
        builtin = fb.get_builtin_code_from_operator_code(code)
        name = code_names.get(builtin, str(builtin))
        names.append(code.customCode.decode() if name == "CUSTOM" and code.customCode else name)
    return names


def _one_op_models(tree) -> list[tuple[tuple, bytes, OpProfile]]:
    """(signature, one-op model bytes, its OpProfile with count) per distinct op."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fb

    names = _op_names(tree)
    graph = tree.subgraphs[0]
    found: dict[tuple, tuple[bytes, OpProfile]] = {}
    for op in graph.operators:
        tensors = [graph.tensors[i] for i in op.inputs if i >= 0]
        outputs = [graph.tensors[i] for i in op.outputs]
        constant = [bool(tree.buffers[t.buffer].data is not None
                         and len(tree.buffers[t.buffer].data)) for t in tensors]  # fmt: skip
        options = None if op.builtinOptions is None else repr(sorted(vars(op.builtinOptions).items()))
        signature = (
            names[op.opcodeIndex],
            tuple((tuple(t.shape), t.type, c) for t, c in zip(tensors, constant, strict=True)),
            tuple((tuple(t.shape), t.type) for t in outputs),
            options,
        )
        out_name = outputs[0].name.decode() if outputs and outputs[0].name else ""
        if signature in found:
            found[signature][1].count += 1
            found[signature][1].names.append(out_name)
            continue
        model = schema.ModelT()
        model.version = tree.version
        model.description = b"one op"
        model.operatorCodes = [copy.deepcopy(tree.operatorCodes[op.opcodeIndex])]
        model.buffers = [schema.BufferT()]
        sub = schema.SubGraphT()
        sub.tensors, remap = [], {}
        for index in list(op.inputs) + list(op.outputs):
            if index < 0 or index in remap:
                continue
            tensor = copy.copy(graph.tensors[index])
            data = tree.buffers[tensor.buffer].data
            if data is not None and len(data):
                buffer = schema.BufferT()
                buffer.data = data
                model.buffers.append(buffer)
                tensor.buffer = len(model.buffers) - 1
            else:
                tensor.buffer = 0
            remap[index] = len(sub.tensors)
            sub.tensors.append(tensor)
        new_op = copy.copy(op)
        new_op.opcodeIndex = 0
        new_op.inputs = [remap[i] if i >= 0 else -1 for i in op.inputs]
        new_op.outputs = [remap[i] for i in op.outputs]
        sub.operators = [new_op]
        sub.inputs = [remap[i] for i, c in zip([i for i in op.inputs if i >= 0], constant,
                                                strict=True) if not c]  # fmt: skip
        sub.outputs = list(new_op.outputs)
        model.subgraphs = [sub]
        content = bytes(fb.convert_object_to_bytearray(model))
        profile = OpProfile(
            names[op.opcodeIndex],
            [tuple(int(d) for d in t.shape) for t in tensors],
            [tuple(int(d) for d in t.shape) for t in outputs],
            1,
            names=[out_name],
        )
        found[signature] = (content, profile)
    return [(sig, content, prof) for sig, (content, prof) in found.items()]


def _interpreter(content: bytes, threads: int, xnnpack: bool, seed: int):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=content, num_threads=threads,
                              experimental_op_resolver_type=resolver)  # fmt: skip
    interpreter.allocate_tensors()
    rng = np.random.default_rng(seed)
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.uniform(-1, 1, detail["shape"]).astype(dtype)
        elif dtype == np.int32 or dtype == np.int64:  # indices, shapes, axes: keep them small
            value = np.zeros(detail["shape"], dtype)
        else:
            info = np.iinfo(dtype)
            value = rng.integers(info.min, info.max, detail["shape"], endpoint=True).astype(dtype)
        interpreter.set_tensor(detail["index"], value)
    for _ in range(2):
        interpreter.invoke()
    return interpreter


def profile_tflite(
    model: str | Path | bytes,
    threads: int = 1,
    xnnpack: bool = True,
    rounds: int = 20,
    seed: int = 0,
    name: str | None = None,
) -> Profile:
    """Per-op profile of ``model`` (path or bytes) under one resolver and thread count."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    content = _read(model)
    tree = fb.read_model_from_bytearray(bytearray(content))
    pieces = _one_op_models(tree)
    runners = [_interpreter(c, threads, xnnpack, seed) for _, c, _ in pieces]
    runners.append(_interpreter(content, threads, xnnpack, seed))
    times: list[list[float]] = [[] for _ in runners]
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        for i in rng.permutation(len(runners)):
            start = time.perf_counter()
            runners[i].invoke()
            times[i].append(time.perf_counter() - start)
    ops = []
    for (_, _, prof), samples in zip(pieces, times[:-1], strict=True):
        prof.median_ms = 1e3 * float(np.median(samples))
        ops.append(prof)
    label = name or (str(model) if not isinstance(model, (bytes, bytearray)) else "model")
    return Profile(label, xnnpack, threads, rounds, 1e3 * float(np.median(times[-1])), ops)
