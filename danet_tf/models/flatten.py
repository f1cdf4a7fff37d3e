"""Rebuild a model as a flat graph of standard layers, in Keras 3 or tf_keras."""

from __future__ import annotations

from typing import Any

import keras

from danet_tf.layers.graph_ops import GraphOps


def to_functional(model: keras.Model, K: Any = keras) -> Any:
    """The same network as ``model``, built from standard layers of module ``K``.

    Every danet_tf layer is expanded into the Conv2D / DepthwiseConv2D /
    BatchNormalization / ReLU / Multiply / ... layers it is made of (through its
    ``_forward`` definition, the same code its ``call`` runs), and every weight is
    copied. Uses:

    * ``K=tf_keras``: the input of tensorflow-model-optimization's quantization-aware
      training, which rejects Keras 3 models and custom layers.
    * ``K=keras``: per-convolution output shapes for complexity counting.

    Outputs keep their names and structure (a tensor, or a dict for multi-scale
    models). Layer names of expanded layers are ``<outer>__<inner>``.
    """
    return rebuild(model, GraphOps(K), K)


def rebuild(model: keras.Model, ops: GraphOps, K: Any = keras) -> Any:
    """``model`` re-run layer by layer through ``ops`` (a :class:`GraphOps`: each danet_tf
    layer's ``_forward`` builds standard layers of ``K``), as a new functional model."""
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise TypeError(f"expected a functional keras.Model, got {type(model).__name__}")
    inputs = [
        K.Input(tuple(t.shape[1:]), name=t.name.split(":")[0], dtype="float32")
        for t in model.inputs
    ]

    def twin(operation):
        return lambda *args, **kwargs: ops.apply(operation, *args)

    outputs = model._run_through_graph(
        inputs, operation_fn=twin, call_fn=lambda op, *args, **kwargs: op(*args, **kwargs)
    )
    return K.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name=model.name)
