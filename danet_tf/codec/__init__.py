"""The heatmap codec, as ``danet_tf.codec``: the same objects as :mod:`danet_edge.codec`.

The codec (encoding, decoding, crop geometry, flip handling, keypoint layouts and the
authors' test protocol) lives in the TensorFlow-free edge distribution ``danet_edge``
(``tflite/`` in the repository), which ``danet_tf`` depends on. This module re-exports it so
training and evaluation code can keep writing ``from danet_tf.codec import HeatmapCodec``;
there is one implementation, and the edge runtime never imports ``danet_tf``.
"""

from danet_edge.codec import *  # noqa: F403  (the public names, listed in __all__)
from danet_edge.codec import __all__, authors  # noqa: F401
