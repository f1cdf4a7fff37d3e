"""Install-time step: make the person detector file (NanoDet-m 416, float16 TFLite) once.

The ``danet-fetch-detector`` command (``python tools/fetch_detector.py --help``): danet_tools/fetch_detector.py holds it.
"""

import sys

from danet_tools.fetch_detector import main

if __name__ == "__main__":
    sys.exit(main())
