"""Convert the DANet authors' MegEngine checkpoint to a verified .keras model.

The ``danet-convert`` command (``python tools/convert_megengine.py --help``): danet_tools/convert_megengine.py holds it.
"""

import sys

from danet_tools.convert_megengine import main

if __name__ == "__main__":
    sys.exit(main())
