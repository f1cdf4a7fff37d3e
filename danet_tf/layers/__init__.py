"""DANet's custom Keras layers, one registered layer per module.

Importing this package registers every layer with Keras (package ``danet_tf``), which
is what lets ``keras.models.load_model`` rebuild a saved DANet without
``custom_objects``.
"""

from danet_tf.layers.channel_attention import ChannelAttention
from danet_tf.layers.dense_attention_layer import DenseAttentionLayer
from danet_tf.layers.mask_attention import MaskAttention
from danet_tf.layers.orthogonal_attention_block import OrthogonalAttentionBlock
from danet_tf.layers.preact_conv import PreActConv
from danet_tf.layers.residual_block import ResidualBlock
from danet_tf.layers.second_order_fusion import SecondOrderFusion
from danet_tf.layers.xunit import XUnit

__all__ = [
    "ChannelAttention",
    "DenseAttentionLayer",
    "MaskAttention",
    "OrthogonalAttentionBlock",
    "PreActConv",
    "ResidualBlock",
    "SecondOrderFusion",
    "XUnit",
]
