"""Argument types of the command lines; the choices themselves are declared once in
:mod:`danet_edge.choices` (standard library only, so ``--help`` stays fast) and re-exported
here for the command modules."""

from __future__ import annotations

from danet_edge.choices import (  # noqa: F401  (re-exported for the commands)
    DEFAULT_INPUT_SIZE,
    DEFAULT_NMS_THRESHOLD,
    DEFAULT_RESCORE_THRESHOLD,
    FORMATS,
    METRICS,
    QUANTIZE_MODES,
    RUNTIMES,
    STRATEGIES,
    parse_size,
)


def size_arg(text: str) -> tuple[int, int]:
    """:func:`parse_size` as an argparse ``type`` (a bad value is a usage error)."""
    import argparse

    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
