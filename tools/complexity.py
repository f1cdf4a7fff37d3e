"""Print parameters and GMACs of registered models next to the paper's numbers.

The ``danet-complexity`` command (``python tools/complexity.py --help``): danet_tools/complexity.py holds it.
"""

import sys

from danet_tools.complexity import main

if __name__ == "__main__":
    sys.exit(main())
