"""Train without TensorFlow from a crop pack (an accelerator machine with JAX).

``python tools/train_portable.py --help``: danet_tools/train_portable.py holds it.
"""

import sys

from danet_tools.train_portable import main

if __name__ == "__main__":
    sys.exit(main())
