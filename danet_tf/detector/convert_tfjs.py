"""A TensorFlow.js graph model (``model.json`` + weight shards) to a TFLite file, without tfjs.

``tensorflowjs`` is not a dependency. A tfjs graph model is a frozen ``GraphDef`` written as
JSON (``modelTopology``) whose ``Const`` nodes carry no values, plus a ``weightsManifest``
naming, in order, the tensors concatenated in the binary shards (optionally stored as
float16 or affine-quantized uint8/uint16). :func:`load_graph_def` puts the values back into
the ``Const`` nodes (with each node's declared dtype: tfjs stores int64 constants as int32);
:func:`convert_graph_model` imports the graph into a function and converts it once with
``tf.lite.TFLiteConverter``.

For NanoDet (:func:`convert_nanodet`) the function is wrapped so that the TFLite file takes
an NHWC image (1, 416, 416, 3), already normalised with NanoDet's BGR mean/std, and returns
two tensors, anchors of the strides 8, 16, 32 concatenated in that order (row-major within
a level): ``scores`` (1, 3549, 80), sigmoid class scores, and ``distances`` (1, 3549, 44),
for each of left, top, right, bottom 11 logits of a distribution over 0..10 strides.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

NANODET_INPUT = "input_1:0"
NANODET_SIZE = 416
NANODET_STRIDES = (8, 16, 32)
# The graph's outputs (from model.json's signature): class scores and box distributions of
# the strides 8, 16, 32.
NANODET_SCORES = ("Identity:0", "Identity_1:0", "Identity_2:0")
NANODET_DISTANCES = ("Identity_3:0", "Identity_4:0", "Identity_5:0")

_NUMPY = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "uint8": np.uint8,
    "float16": np.float16,
    "int64": np.int64,
}


def read_weights(manifest: list[dict], base_dir: Path) -> dict[str, np.ndarray]:
    """Every tensor of a tfjs ``weightsManifest``, as stored (de-quantized), by name."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((base_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(s) for s in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            dtype = spec["dtype"]
            if quant:
                stored = np.dtype(_NUMPY[quant["dtype"]])
                raw = np.frombuffer(data, stored, count, offset)
                offset += count * stored.itemsize
                if quant["dtype"] == "float16":
                    value = raw.astype(np.float32)
                else:  # affine: value = q * scale + min
                    value = raw.astype(np.float32) * quant["scale"] + quant["min"]
                value = value.astype(_NUMPY[dtype])
            else:
                if dtype not in _NUMPY:
                    raise ValueError(f"weight {spec['name']!r}: dtype {dtype!r} not supported")
                stored = np.dtype(_NUMPY[dtype])
                value = np.frombuffer(data, stored, count, offset).copy()
                offset += count * stored.itemsize
            out[spec["name"]] = value.reshape(shape)
        if offset != len(data):
            raise ValueError(f"weight shards {group['paths']}: {len(data) - offset} bytes unused")
    return out


def load_graph_def(model_json: str | Path) -> tf.compat.v1.GraphDef:
    """The frozen GraphDef of a tfjs graph model, ``Const`` values filled from the shards."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    if spec.get("format") != "graph-model":
        raise ValueError(f"{model_json}: not a tfjs graph model (format {spec.get('format')!r})")
    topology = spec["modelTopology"]
    graph_def = json_format.ParseDict(
        {key: topology[key] for key in ("node", "library", "versions") if key in topology},
        tf.compat.v1.GraphDef(),
        ignore_unknown_fields=True,
    )
    weights = read_weights(spec["weightsManifest"], model_json.parent)
    for node in graph_def.node:
        if node.op != "Const":
            continue
        if node.name not in weights:
            raise ValueError(f"{model_json}: Const {node.name!r} has no weights")
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        value = weights.pop(node.name).astype(dtype.as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
    if weights:
        raise ValueError(f"{model_json}: weights without a Const node: {sorted(weights)[:5]}")
    return graph_def


_ACTIVATIONS = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid"}
_CONV_ATTRS = {
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format",
                                "dilations", "use_cudnn_on_gpu")),
    "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", ("T", "strides", "padding",
                                   "explicit_paddings", "data_format", "dilations")),
}


def split_fused_ops(graph_def: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """tfjs's fused convolutions (``_FusedConv2D``, ``FusedDepthwiseConv2dNative`` with
    ``BiasAdd`` and an optional activation) as plain convolution, ``BiasAdd`` and activation
    nodes; the last of them keeps the fused node's name, so its consumers are unchanged.

    TensorFlow has no kernel for ``FusedDepthwiseConv2dNative`` (tfjs's own op), and the TFLite
    converter does not take ``_FusedConv2D``; any other fusion raises naming the node.
    """
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op not in _CONV_ATTRS:
            out.node.add().CopyFrom(node)
            continue
        plain, attrs = _CONV_ATTRS[node.op]
        fused = list(node.attr["fused_ops"].list.s)
        if not fused or fused[0] != b"BiasAdd" or len(fused) > 2 or (
            len(fused) == 2 and fused[1] not in _ACTIVATIONS
        ) or node.attr["num_args"].i != 1:
            raise ValueError(f"{node.name}: fusion {fused} of {node.op} is not supported")
        data, kernel, bias = node.input[:3]
        conv = out.node.add(name=f"{node.name}/conv", op=plain, input=[data, kernel])
        for key in attrs:
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        last = node.name if len(fused) == 1 else f"{node.name}/bias"
        add = out.node.add(name=last, op="BiasAdd", input=[conv.name, bias])
        add.attr["T"].CopyFrom(node.attr["T"])
        if "data_format" in node.attr:
            add.attr["data_format"].CopyFrom(node.attr["data_format"])
        if len(fused) == 2:
            act = out.node.add(name=node.name, op=_ACTIVATIONS[fused[1]], input=[last])
            act.attr["T"].CopyFrom(node.attr["T"])
    return out


def graph_function(graph_def: tf.compat.v1.GraphDef, inputs: list[str], outputs: list[str]):
    """A concrete function ``inputs -> outputs`` of a frozen GraphDef."""
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []
    )
    graph = wrapped.graph
    return wrapped.prune(
        [graph.as_graph_element(n) for n in inputs], [graph.as_graph_element(n) for n in outputs]
    )


def nanodet_function(model_json: str | Path):
    """NanoDet as a ``tf.function``: NHWC normalised BGR image -> ``scores``, ``distances``."""
    fn = graph_function(
        load_graph_def(model_json), [NANODET_INPUT], list(NANODET_SCORES + NANODET_DISTANCES)
    )
    spec = tf.TensorSpec((1, NANODET_SIZE, NANODET_SIZE, 3), tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def nanodet(image):
        out = fn(tf.transpose(image, [0, 3, 1, 2]))
        return {"scores": tf.concat(out[:3], axis=1), "distances": tf.concat(out[3:], axis=1)}

    return nanodet


def to_tflite(function, quantize: str = "fp16") -> bytes:
    """A TFLite flatbuffer of a ``tf.function`` with one input signature."""
    if quantize not in ("fp16", "none"):
        raise ValueError(f"quantize must be 'fp16' or 'none', not {quantize!r}")
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function
    )
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def convert_nanodet(model_json: str | Path, output: str | Path, quantize: str = "fp16") -> str:
    """Convert NanoDet's tfjs graph model to ``output`` (.tflite); returns its sha256."""
    flatbuffer = to_tflite(nanodet_function(model_json), quantize)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".partial")
    tmp.write_bytes(flatbuffer)
    tmp.replace(output)
    return hashlib.sha256(flatbuffer).hexdigest()
