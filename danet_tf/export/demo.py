"""The demo lives in the edge distribution (:mod:`danet_edge.demo`): re-exported here."""

from danet_edge.demo import DemoError, detections_for, run_demo

__all__ = ["DemoError", "detections_for", "run_demo"]
