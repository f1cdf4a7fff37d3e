"""Distribution strategies: one device, all local GPUs, or several workers via TF_CONFIG."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def split_cpu(num_devices: int) -> None:
    """Split the CPU into ``num_devices`` logical devices (before TensorFlow initializes).

    Gives several replicas on a machine without GPUs, so multi-replica code paths run in CI.
    """
    if num_devices <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
        )
    except RuntimeError as err:
        raise RuntimeError(
            f"runtime.cpu_devices={num_devices}: the CPU can only be split before TensorFlow "
            f"initializes its devices ({err})"
        ) from None


def _tf_config_workers() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {raw!r}") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto | default | mirrored | multiworker`` -> a ``tf.distribute.Strategy``.

    - ``default``: the default (no-op) strategy, one device.
    - ``mirrored``: ``MirroredStrategy`` over all local GPUs, or over the logical CPU devices
      when there is no GPU (one replica per device).
    - ``multiworker``: ``MultiWorkerMirroredStrategy``; the cluster comes from ``TF_CONFIG``.
    - ``auto``: ``multiworker`` when ``TF_CONFIG`` names more than one worker, ``mirrored``
      when there are several local GPUs (or logical CPUs), else ``default``.
    """
    if name == "auto":
        if _tf_config_workers() > 1:
            name = "multiworker"
        elif len(_local_devices()) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_local_devices())
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("runtime.strategy='multiworker' needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"runtime.strategy: expected auto, default, mirrored or multiworker, got {name!r}")


def _local_devices() -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [d.name for d in gpus]
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes logs, checkpoints and the final model."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                    "chief" not in resolver.cluster_spec().as_dict())


def worker_id(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return 0 if resolver is None or resolver.task_id is None else int(resolver.task_id)
