"""The order of the training samples: a fresh full permutation of all of them every pass.

The training stream is endless; its position ``p`` holds sample ``perm_e[p mod n]`` of pass
``e = p // n``, where ``perm_e`` is a pseudo-random permutation of ``range(n)`` that depends
on ``(seed, e)`` alone. TensorFlow's counter-based ``RandomIndexShuffle`` computes any entry
of it directly, so nothing is stored or buffered (the same cost for COCO's 150k persons as
for ten), and a resumed run starts at its position without replaying the stream. A pipeline
that is shard ``i`` of ``S`` serves positions ``i, i + S, i + 2S, ...``: together the shards
visit the single global permutation, whatever the number of workers.

Why not ``tf.data.Dataset.shuffle``: the readers list persons sorted by image id, and a
buffer of B elements only mixes samples within about B of each other, so with B = 1024 over
COCO every pass was a near-sequential sweep of the file; a buffer of the whole set would cost
memory and a full refill after every resume.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# The first of the three seed words of RandomIndexShuffle, fixed, so that our permutations
# do not coincide with `tf.random.experimental.index_shuffle(i, [seed, epoch], n)`'s.
_SALT = 0x5EED


def sample_indices(positions: tf.Tensor, num_samples: int, seed: int) -> tf.Tensor:
    """Stream positions (1-D int64) -> the sample index at each (1-D int64)."""
    positions = tf.cast(positions, tf.int64)
    n = tf.constant(int(num_samples), tf.int64)
    epoch = positions // n
    seeds = tf.stack([tf.fill(tf.shape(positions), tf.constant(_SALT, tf.int64)),
                      tf.fill(tf.shape(positions), tf.constant(int(seed), tf.int64)), epoch],
                     axis=-1)  # fmt: skip
    return tf.raw_ops.RandomIndexShuffle(index=positions % n, seed=seeds,
                                         max_index=tf.fill(tf.shape(positions), n - 1), rounds=4)


def epoch_order(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of pass ``epoch``: the sample indices the stream visits, in order."""
    start = int(epoch) * int(num_samples)
    positions = tf.range(start, start + int(num_samples), dtype=tf.int64)
    return sample_indices(positions, num_samples, seed).numpy()
