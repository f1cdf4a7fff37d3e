"""The small set of tensor operations DANet layers are written in.

Every composite layer in :mod:`danet_tf.layers` writes its forward pass once, as
``_forward(inputs, ops)``. Two implementations of ``ops`` exist:

* :data:`EAGER` runs inside the layer's own ``call`` with ``keras.ops`` and the layer's
  own sublayers (the normal Keras 3 path, also under mixed precision);
* :class:`GraphOps` rebuilds the same computation as a flat functional graph of
  *standard* layers in any Keras-compatible module (Keras 3 or ``tf_keras``), copying
  the weights. Quantization-aware training needs this (tfmot only accepts ``tf_keras``
  models of built-in layers), and so does per-layer complexity counting, which needs
  the output shape of every convolution.

Keeping one forward definition is what guarantees that the flattened model computes
exactly what the Keras 3 model computes.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import keras
from keras import ops as kops

_DROPPED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")


class EagerOps:
    """``ops`` for a layer's own ``call``: sublayers are called, math uses keras.ops."""

    def apply(self, layer: keras.layers.Layer, *args: Any) -> Any:
        return layer(args[0] if len(args) == 1 else list(args))

    def multiply(self, a, b):
        return kops.multiply(a, b)

    def add(self, a, b):
        return kops.add(a, b)

    def one_minus(self, x):
        return kops.subtract(kops.ones_like(x), x)

    def one_plus(self, x):
        return kops.add(kops.ones_like(x), x)

    def sigmoid(self, x):
        return kops.sigmoid(x)

    def sigmoid_complement(self, x, absolute: bool = False):
        """``1 - sigmoid(|x| if absolute else x)`` (deployment graphs may compute it as
        ``sigmoid(-x)``, ``sigmoid(min(x, -x))``)."""
        return self.one_minus(self.sigmoid(self.abs(x) if absolute else x))

    def blend(self, lam, a, b):
        """``lam * a + (1 - lam) * b`` (deployment graphs: ``b + lam * (a - b)``)."""
        return self.add(self.multiply(lam, a), self.multiply(self.one_minus(lam), b))

    def abs(self, x):
        return kops.abs(x)

    def gaussian(self, x):
        return kops.exp(kops.negative(kops.square(x)))

    def concat(self, tensors):
        return kops.concatenate(tensors, axis=-1)

    def global_pool(self, x):
        return kops.mean(x, axis=(1, 2), keepdims=True)


EAGER = EagerOps()


class GraphOps:
    """``ops`` that emit standard layers of module ``K`` (``keras`` or ``tf_keras``).

    Args:
        K: the Keras module to build with.
        prefix: prepended to every created layer's name, so names stay unique.
    """

    def __init__(self, K: Any, prefix: str = "") -> None:
        self.K = K
        self.prefix = prefix
        self._count = 0

    def _name(self, base: str) -> str:
        self._count += 1
        return f"{self.prefix}{base}_{self._count}"

    def scoped(self, name: str) -> GraphOps:
        """The same kind of ``ops`` (a subclass keeps its settings) for a nested layer."""
        child = copy.copy(self)
        child.prefix = f"{self.prefix}{name}__"
        child._count = 0
        return child

    def apply(self, layer: keras.layers.Layer, *args: Any) -> Any:
        forward = getattr(layer, "_forward", None)
        if forward is not None:
            return forward(args[0] if len(args) == 1 else list(args), self.scoped(layer.name))
        twin = clone_layer(layer, self.K, name=f"{self.prefix}{layer.name}")
        out = twin(args[0] if len(args) == 1 else list(args))
        twin.set_weights(layer.get_weights())
        return out

    def multiply(self, a, b):
        return self.K.layers.Multiply(name=self._name("multiply"))([a, b])

    def add(self, a, b):
        return self.K.layers.Add(name=self._name("add"))([a, b])

    def one_minus(self, x):
        return self.K.layers.Rescaling(-1.0, offset=1.0, name=self._name("one_minus"))(x)

    def one_plus(self, x):
        return self.K.layers.Rescaling(1.0, offset=1.0, name=self._name("one_plus"))(x)

    def sigmoid(self, x):
        return self.K.layers.Activation("sigmoid", name=self._name("sigmoid"))(x)

    def sigmoid_complement(self, x, absolute: bool = False):
        if absolute:
            # 1 - sigmoid(|x|) = sigmoid(x - relu(2 x)): built-in layers only, and in int8
            # TFLite ops XNNPACK runs (the RELU fuses into the MUL; ABS, MINIMUM and a
            # standalone RELU are not delegated, see docs/deployment.md, Graph rewrites).
            doubled = self.K.layers.Rescaling(2.0, name=self._name("double"))(x)
            relu = self.K.layers.ReLU(name=self._name("relu"))(doubled)
            neg_abs = self.K.layers.Subtract(name=self._name("neg_abs"))([x, relu])
            return self.sigmoid(neg_abs)
        return self.one_minus(self.sigmoid(x))

    def blend(self, lam, a, b):
        return self.add(self.multiply(lam, a), self.multiply(self.one_minus(lam), b))

    def abs(self, x):
        # |x| = relu(x) + relu(-x): built-in layers only, so quantizers know every op.
        neg = self.K.layers.Rescaling(-1.0, name=self._name("negate"))(x)
        pos = self.K.layers.ReLU(name=self._name("relu_pos"))(x)
        negr = self.K.layers.ReLU(name=self._name("relu_neg"))(neg)
        return self.add(pos, negr)

    def gaussian(self, x):
        sq = self.multiply(x, x)
        neg = self.K.layers.Rescaling(-1.0, name=self._name("negate"))(sq)
        return self.K.layers.Activation("exponential", name=self._name("exp"))(neg)

    def concat(self, tensors):
        return self.K.layers.Concatenate(axis=-1, name=self._name("concat"))(list(tensors))

    def global_pool(self, x):
        return self.K.layers.GlobalAveragePooling2D(keepdims=True, name=self._name("gap"))(x)


def clone_layer(layer: keras.layers.Layer, K: Any, name: str | None = None) -> Any:
    """A new, unbuilt standard layer of module ``K`` with ``layer``'s configuration."""
    cls_name = type(layer).__name__
    cls = getattr(K.layers, cls_name, None)
    if cls is None:
        raise TypeError(f"cannot rebuild layer {layer.name!r}: {K.__name__} has no {cls_name}")
    config = dict(layer.get_config())
    accepted = set(inspect.signature(cls.__init__).parameters) | {"name", "trainable"}
    config = {
        k: v
        for k, v in config.items()
        if k in accepted and not k.endswith(_DROPPED_SUFFIXES) and k != "dtype"
    }
    if name is not None:
        config["name"] = name
    return cls(**config)


class ComposedLayer(keras.layers.Layer):
    """Base of danet_tf's composite layers: ``call`` runs the one ``_forward``
    definition with :data:`EAGER`; :class:`GraphOps` runs it to rebuild the layer."""

    def _forward(self, inputs, ops):
        raise NotImplementedError

    def call(self, inputs):
        return self._forward(inputs, EAGER)
