"""Make a shipped preset from a trained .keras (maintainers).

The ``danet-make-preset`` command (``python tools/make_preset.py --help``): danet_tools/make_preset.py holds it.
"""

import sys

from danet_tools.make_preset import main

if __name__ == "__main__":
    sys.exit(main())
