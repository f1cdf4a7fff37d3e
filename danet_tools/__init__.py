"""The command-line tools of danet_tf: ``danet-train``, ``danet-eval``, ``danet-export``,
``danet-benchmark``, ``danet-demo``, ``danet-convert``, ``danet-complexity`` and
``danet-fetch-detector`` (``tools/<name>.py`` in a checkout are the same commands).

Each module holds its command's argparse parser and ``main(argv)``. At import time a module
uses the standard library and ``danet_edge`` only, so ``--help`` answers without TensorFlow;
``main`` parses, calls :func:`quiet_tensorflow`, then imports ``danet_tf`` and calls into it.
"""

from __future__ import annotations

import os
import re
import sys

# TensorFlow's start-up lines that say nothing to a user of these commands: the GPU probe of
# a CPU-only machine (cudart stub, cuInit), the CPU instruction notice, absl's note that it
# logs to stderr before its initialisation, CUDA plugin double registration, oneDNN notice.
START_UP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cuda_executor\.cc:\d+\] could not open file to read NUMA node"
    r"|cpu_feature_guard\.cc:\d+\]"
    r"|^To enable the following instructions: .* rebuild TensorFlow with"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc:\d+\] computation placer already registered"
    r"|oneDNN custom operations are on"
)


def verbose() -> bool:
    """``DANET_VERBOSE=1``: show TensorFlow's start-up log lines."""
    return os.environ.get("DANET_VERBOSE", "").strip() not in ("", "0")


def quiet_tensorflow() -> None:
    """Start TensorFlow without its start-up log lines; call before ``danet_tf`` is imported.

    Sets ``TF_CPP_MIN_LOG_LEVEL=2`` (warnings and info off, errors kept) and imports
    TensorFlow and lists its devices (which loads the GPU platform; it does not initialise
    the runtime, so distribution strategies can still be chosen afterwards) with file
    descriptor 2 captured; every captured line that is not in :data:`START_UP_NOISE` is
    written back to stderr. Does nothing when ``DANET_VERBOSE=1``, when the user set
    ``TF_CPP_MIN_LOG_LEVEL`` (their level is kept and nothing is filtered) or when TensorFlow
    is already imported.
    """
    if verbose() or "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with _filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()


def _filtered_stderr():
    """Capture file descriptor 2 (C++ logging writes there) and write back the lines that
    are not start-up noise."""
    from danet_edge.streams import filtered_fd

    return filtered_fd(2, START_UP_NOISE)
