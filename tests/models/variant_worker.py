"""Subprocess worker for the fresh-process reload test (tests/models/test_models.py).

``python variant_worker.py save ROOT NAME...`` builds each model at 64x64 (with one
dense/residual block per stage), runs it on
``ROOT/input.npy`` and saves ``NAME.keras`` and ``NAME.npy``;
``python variant_worker.py load ROOT NAME...`` imports danet_tf in this fresh
process, loads each file with ``tf.keras.models.load_model`` (safe mode, no
``custom_objects``) and prints the largest output difference per model as JSON.
Two workers run side by side: building a DANet-102 is single-threaded Python.
"""

import json
import sys

import numpy as np


def main(mode: str, root: str, names: list[str]) -> None:
    import keras
    import tensorflow as tf

    import danet_tf

    x = np.load(f"{root}/input.npy")
    report = {}
    for name in names:
        if mode == "save":
            model = danet_tf.build_model(name, input_shape=x.shape[1:], blocks=(1, 1, 1, 1))
            np.save(f"{root}/{name}.npy", np.asarray(model(x, training=False)))
            model.save(f"{root}/{name}.keras")
            report[name] = list(np.load(f"{root}/{name}.npy").shape)
        else:
            model = tf.keras.models.load_model(f"{root}/{name}.keras")
            got = np.asarray(model(x, training=False))
            report[name] = float(np.abs(got - np.load(f"{root}/{name}.npy")).max())
        keras.backend.clear_session()
    print("REPORT" + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
