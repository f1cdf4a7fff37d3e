"""``python standin_run.py section.field=value ...``: the real loop on the stand-in model/data.

Run as a child process by the strategy tests (a CPU split or a TF_CONFIG cluster must be set
up before TensorFlow initializes, so each configuration needs a fresh interpreter).
"""

from __future__ import annotations

import sys

import numpy as np

from danet_tf.config import load_config, parse_set_args
from danet_tf.training import train
from tests.training.standin import LEVELS, sharded_inputs, standin_inference, standin_model

if __name__ == "__main__":
    cfg = load_config(None, parse_set_args(sys.argv[1:]))
    result = train(cfg, inputs=sharded_inputs(size=cfg.model.input_size),
                   model_builder=standin_model, levels=LEVELS, inference_fn=standin_inference)
    weights = {v.path: v.numpy() for v in result.model.weights}
    np.savez(result.outdir / "weights.npz", **weights)
