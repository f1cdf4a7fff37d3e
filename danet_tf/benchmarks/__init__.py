"""Every benchmark of the project, in one place; each prints ratios measured in one run.

- :mod:`danet_tf.benchmarks.codec`: encode/decode speed of the heatmap codec;
- :mod:`danet_tf.benchmarks.data`: the input pipeline against the JPEG-decode ceiling;
- :mod:`danet_tf.benchmarks.training`: training-step samples/s;
- :mod:`danet_tf.benchmarks.deployment`: every runtime on the same verified artifacts against
  the matmul ceiling, quantized agreement, and whole images with the person detector;
- :mod:`danet_tf.benchmarks.profiling`: per-op times of a ``.tflite`` file
  (``tools/profile_tflite.py``).

The thin command lines are ``tools/benchmark*.py`` (``danet-benchmark``).
"""
