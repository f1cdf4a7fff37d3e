"""Parameter and multiply-add counts.

Counting rule (what ``tools/complexity.py`` prints and the README tables use):

* **Parameters**: trainable weights only (kernels, biases, BatchNorm gamma/beta), as
  ``sum(p.numel() for p in model.parameters())`` counts in PyTorch/MegEngine, the
  frameworks the paper's numbers come from. BatchNorm moving statistics are excluded.
* **MACs**: one multiply-add = one "FLOP", as this field's papers count. Only
  Conv2D (``H_out * W_out * C_out * k_h * k_w * C_in / groups``), DepthwiseConv2D
  (``H_out * W_out * C * k_h * k_w``), Conv2DTranspose (``H_in * W_in * C_in *
  C_out * k_h * k_w``: every input pixel scatters one kernel) and Dense
  (``C_in * C_out``) count. Bias adds, BatchNorm, activations, pooling, resizing and
  elementwise products are not counted.

Counts are taken on :func:`danet_tf.models.to_functional`'s flat graph, where every
convolution has a known output shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from danet_tf.models.flatten import to_functional


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def _layer_macs(layer: keras.layers.Layer) -> int:
    if isinstance(layer, keras.layers.Conv2DTranspose):
        _, h, w, c_in = layer.input.shape
        k_h, k_w = layer.kernel_size
        return h * w * c_in * layer.filters * k_h * k_w
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _, h, w, c = layer.output.shape
        k_h, k_w = layer.kernel_size
        return h * w * c * k_h * k_w
    if isinstance(layer, keras.layers.Conv2D):
        c_in = layer.input.shape[-1]
        _, h, w, c_out = layer.output.shape
        k_h, k_w = layer.kernel_size
        return h * w * c_out * k_h * k_w * c_in // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return int(layer.input.shape[-1]) * layer.units
    return 0


def count_complexity(model: keras.Model) -> Complexity:
    """Trainable parameters and multiply-adds of ``model`` at its input size."""
    params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    flat = to_functional(model, keras)
    macs = int(sum(_layer_macs(layer) for layer in flat.layers))
    return Complexity(params=params, macs=macs)


def complexity_report(names: list[str]) -> list[dict]:
    """One row per model: measured counts, the paper's numbers and their ratios.

    ``gmacs_without_transpose`` is also given because the paper does not say whether
    its counter included the bottom-up path's transposed convolutions.
    """
    from danet_tf.models import build_model, get_spec

    rows = []
    for name in names:
        spec = get_spec(name)
        model = build_model(name)
        result = count_complexity(model)
        flat = to_functional(model, keras)
        transpose = sum(
            _layer_macs(layer)
            for layer in flat.layers
            if isinstance(layer, keras.layers.Conv2DTranspose)
        )
        paper = spec.paper
        rows.append(
            {
                "model": name,
                "input": "x".join(str(v) for v in spec.default_input),
                "params_m": round(result.params_m, 4),
                "gmacs": round(result.gmacs, 4),
                "gmacs_without_transpose": round((result.macs - transpose) / 1e9, 4),
                "paper_params_m": paper.params_m if paper else None,
                "paper_gmacs": paper.gmacs if paper else None,
                "params_ratio": round(result.params_m / paper.params_m, 4) if paper else None,
                "gmacs_ratio": round(result.gmacs / paper.gmacs, 4) if paper else None,
                "source": paper.source if paper else None,
                "description": spec.description,
            }
        )
        keras.backend.clear_session()
    return rows
