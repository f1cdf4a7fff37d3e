"""``python tflite/estimate.py`` = the ``danet-estimate`` command of the edge distribution.

Install the distribution (``pip install ./tflite``) and run ``danet-estimate --help``; this
file is kept for scripts that call the old path.
"""

import sys

from danet_edge.cli import main

if __name__ == "__main__":
    sys.exit(main())
