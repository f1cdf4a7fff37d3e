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
convolution has a known output shape. :data:`CONVENTION` states how the counts are
compared with the paper.
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


# Published counts of the same architecture by another implementation: they check the
# counting rule itself (the paper's own numbers may use another rule).
CROSS_CHECKS = {"densenet169": ("torchvision DenseNet-169", 14.149, 3.360)}

CONVENTION = (
    "params: trainable weights (BatchNorm statistics excluded); GMACs: multiply-adds of "
    "Conv2D, DepthwiseConv2D, Conv2DTranspose and Dense layers, in G; compared with the "
    "paper: gmacs_paper_convention, the same count without the bottom-up path's transposed "
    "convolutions (with Table I's conv stem, which the DANet rows have, 9 of the 11 "
    "DANet rows with paper numbers fall within 5 % of the paper this way)"
)


def _ratio(ours: float, paper: float | None) -> float | None:
    return None if not paper else round(ours / paper, 4)


def complexity_report(names: list[str], coarse_heads: bool = False) -> list[dict]:
    """One row per model: our counts, the paper's numbers (table, row label) and ratios.

    ``gmacs_paper_convention`` leaves out the transposed convolutions (:data:`CONVENTION`);
    the ratios compare it, and ``params_m``, with the paper. With ``coarse_heads``, pose
    rows also get the cost of the three coarse heads that training supervises
    (``multi_scale=True``) and that the counted inference model leaves out.
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
        convention = round((result.macs - transpose) / 1e9, 4)
        paper = spec.paper
        row = {
            "model": name,
            "table": paper.table if paper else None,
            "row": paper.row if paper else None,
            "input": "x".join(str(v) for v in spec.default_input),
            "paper_gflops": paper.gmacs if paper else None,
            "paper_params_m": paper.params_m if paper else None,
            "params_m": round(result.params_m, 4),
            "gmacs": round(result.gmacs, 4),
            "gmacs_paper_convention": convention,
            "params_ratio": _ratio(result.params_m, paper and paper.params_m),
            "gmacs_ratio": _ratio(convention, paper and paper.gmacs),
            "gmacs_full_ratio": _ratio(result.gmacs, paper and paper.gmacs),
            "paper_note": paper.source if paper else None,
            "description": spec.description,
        }
        if name in CROSS_CHECKS:
            label, params_m, gmacs = CROSS_CHECKS[name]
            row["cross_check"] = {"source": label, "params_m": params_m, "gmacs": gmacs}
        if coarse_heads and spec.task == "pose":
            full = count_complexity(build_model(name, multi_scale=True))
            row["coarse_heads_params_m"] = round((full.params - result.params) / 1e6, 4)
            row["coarse_heads_gmacs"] = round((full.macs - result.macs) / 1e9, 4)
        rows.append(row)
        keras.backend.clear_session()
    return rows
