"""Export a DANet model and verify the artifact against the Keras model on real person crops.

The ``danet-export`` command (``python tools/export.py --help``): danet_tools/export.py holds it.
"""

import sys

from danet_tools.export import main

if __name__ == "__main__":
    sys.exit(main())
