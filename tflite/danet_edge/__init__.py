"""danet_edge: DANet pose estimation on edge devices, with no TensorFlow or Keras.

numpy, OpenCV and LiteRT (``ai-edge-litert``) only; ONNX Runtime is an optional extra. This
distribution owns everything an exported model needs at run time:

- :mod:`danet_edge.codec`: heatmap encoding and decoding, crop geometry, flip handling,
  keypoint layouts (training in ``danet_tf`` uses the same objects);
- :mod:`danet_edge.metadata`: the DANet metadata embedded in ``.tflite`` and ``.onnx`` files;
- :mod:`danet_edge.runners`: ``.tflite`` and ``.onnx`` files as callables crops -> heatmaps;
- :mod:`danet_edge.topdown`: the one top-down predictor (crop, batched model call, flip test,
  decode, un-crop) and :mod:`danet_edge.draw`;
- the ``danet-estimate`` command (:mod:`danet_edge.cli`).

It never imports ``danet_tf``; ``danet_tf`` depends on it.
"""

__version__ = "0.1.0"
