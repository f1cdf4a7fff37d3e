"""The two standard layers the rewrites add to deployment graphs: DEPTH_TO_SPACE and
SPACE_TO_DEPTH (one op each in TFLite and ONNX). Never in a training model; registered
with Keras so that a deployment graph saved for inspection reloads."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="danet_tf")
class DepthToSpace(keras.layers.Layer):
    """``tf.nn.depth_to_space`` (one DEPTH_TO_SPACE op in TFLite, DepthToSpace in ONNX);
    deployment graphs only."""

    def __init__(self, block: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        import tensorflow as tf

        return tf.nn.depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        b = self.block
        return (shape[0], shape[1] * b, shape[2] * b, shape[3] // (b * b))

    def get_config(self):
        return {**super().get_config(), "block": self.block}


@keras.saving.register_keras_serializable(package="danet_tf")
class SpaceToDepth(DepthToSpace):
    """``tf.nn.space_to_depth`` (one SPACE_TO_DEPTH op in TFLite); deployment graphs only."""

    def call(self, x):
        import tensorflow as tf

        return tf.nn.space_to_depth(x, self.block)

    def compute_output_shape(self, shape):
        b = self.block
        return (shape[0], shape[1] // b, shape[2] // b, shape[3] * b * b)
