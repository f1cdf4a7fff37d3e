"""Evaluate a pose model top-down: COCO OKS AP, MPII PCKh@0.5 or LSP PCK@0.2.

The ``danet-eval`` command (``python tools/eval.py --help``): danet_tools/eval.py holds it.
"""

import sys

from danet_tools.eval import main, parse_args, run  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
